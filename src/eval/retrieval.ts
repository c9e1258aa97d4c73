/**
 * Image↔text retrieval recall (R@K) from precomputed embeddings, where an image may have several captions
 * and a caption several images.
 *
 * Matches are given per text: `textToImages[t]` lists the image indices caption t describes (COCO/Flickr:
 * one image per caption, several captions per image). A query hits at K when ANY of its true matches is
 * among its K best-scored gallery items. Ties are pessimistic: a false item scored equal to the best true
 * match ranks ahead of it. Queries with no true match (distractor images or captions) stay in the gallery
 * but are left out of their own direction's denominator. Scores are dot products, i.e. cosine similarity
 * for L2-normalized embeddings. Results are fractions in 0..1.
 */

import { dot, rowCount, scoreBlock } from "../search/kernels.js";
import { UserError } from "../util/errors.js";

export type RecallAtK = Record<string, number>;

export interface RetrievalRecall {
  /** Image queries against the caption gallery: "R@1", "R@5", … */
  image_to_text: RecallAtK;
  /** Caption queries against the image gallery. */
  text_to_image: RecallAtK;
}

/** Image rows scored at once: the score block is QUERY_BLOCK × texts floats (5 MB for 10k texts). */
const QUERY_BLOCK = 64;

export function retrievalRecall(
  imageEmb: Float32Array,
  textEmb: Float32Array,
  dim: number,
  textToImages: readonly (readonly number[])[],
  ks: readonly number[] = [1, 5, 10],
): RetrievalRecall {
  const nImages = rowCount(imageEmb, dim, "retrieval: image embeddings");
  const nTexts = rowCount(textEmb, dim, "retrieval: text embeddings");
  if (textToImages.length !== nTexts)
    throw new UserError(`retrieval: ${nTexts} text embeddings but matches for ${textToImages.length} texts`);
  for (const k of ks)
    if (!Number.isInteger(k) || k < 1)
      throw new UserError(`retrieval: K must be a positive integer, got ${k}`);
  const imageToTexts: number[][] = Array.from({ length: nImages }, () => []);
  // Repeated indices would be counted twice when ranking ties, so each list is made a set.
  const textMatches = textToImages.map((images) => [...new Set(images)]);
  textMatches.forEach((images, t) => {
    for (const i of images) {
      if (!Number.isInteger(i) || i < 0 || i >= nImages)
        throw new UserError(`retrieval: text ${t} matches image ${i}, outside 0..${nImages - 1}`);
      (imageToTexts[i] as number[]).push(t);
    }
  });
  // The best true-match score of every query, from its matches alone: the same dot(image, text) call as
  // the score matrix streamed below, so the values agree to the bit and ≥ finds exact ties.
  const textBest = bestTrueScores(textMatches, (t, i) => dot(imageEmb, i * dim, textEmb, t * dim, dim));
  const imageBest = bestTrueScores(imageToTexts, (i, t) => dot(imageEmb, i * dim, textEmb, t * dim, dim));
  // One pass over the image×text score matrix, a block of image rows at a time, counts for every query
  // the gallery items scoring ≥ its best true match, in both directions at once.
  const imageAhead = new Int32Array(nImages);
  const textAhead = new Int32Array(nTexts);
  // Doubles, as `dot` returns them: rounding to float32 would break the equality with the best scores.
  const scores = new Float64Array(Math.min(QUERY_BLOCK, nImages) * nTexts);
  for (let i0 = 0; i0 < nImages; i0 += QUERY_BLOCK) {
    const rows = Math.min(QUERY_BLOCK, nImages - i0);
    scoreBlock(imageEmb, i0, rows, textEmb, nTexts, dim, scores);
    for (let r = 0; r < rows; r++) {
      const best = imageBest.score[i0 + r] as number;
      let ahead = 0;
      for (let t = 0, o = r * nTexts; t < nTexts; t++, o++) {
        const s = scores[o] as number;
        if (s >= best) ahead++;
        if (s >= (textBest.score[t] as number)) textAhead[t]! += 1;
      }
      imageAhead[i0 + r] = ahead;
    }
  }
  return {
    image_to_text: recallAt(imageAhead, imageBest, ks, "image"),
    text_to_image: recallAt(textAhead, textBest, ks, "text"),
  };
}

interface BestTrue {
  /** Best true-match score per query (+∞ for a query with no match, so nothing counts against it). */
  score: Float64Array;
  /** How many true matches reach that score (they are among the items counted as ≥ it). */
  ties: Int32Array;
  counted: number;
}

function bestTrueScores(
  matches: readonly (readonly number[])[],
  score: (q: number, g: number) => number,
): BestTrue {
  const best = new Float64Array(matches.length).fill(Number.POSITIVE_INFINITY);
  const ties = new Int32Array(matches.length);
  let counted = 0;
  matches.forEach((truth, q) => {
    if (truth.length === 0) return;
    counted++;
    const s = truth.map((g) => score(q, g));
    const top = Math.max(...s);
    best[q] = top;
    ties[q] = s.filter((x) => x === top).length;
  });
  return { score: best, ties, counted };
}

function recallAt(ahead: Int32Array, best: BestTrue, ks: readonly number[], what: string): RecallAtK {
  if (best.counted === 0)
    throw new UserError(`retrieval: no ${what} has a true match, so recall is undefined`);
  const hits = new Array<number>(ks.length).fill(0);
  ahead.forEach((n, q) => {
    if (best.score[q] === Number.POSITIVE_INFINITY) return;
    // 0-based rank of the best true match: the false items scored at least as high as it.
    const rank = n - (best.ties[q] as number);
    ks.forEach((k, j) => {
      if (rank < k) hits[j]! += 1;
    });
  });
  return Object.fromEntries(ks.map((k, j) => [`R@${k}`, (hits[j] as number) / best.counted]));
}
