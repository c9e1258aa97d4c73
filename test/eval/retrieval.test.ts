/** Retrieval recall: hand-computed cases (ties, several captions per image and images per caption). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { retrievalRecall } from "../../src/eval/retrieval.js";
import { UserError } from "../../src/util/errors.js";

const f32 = (rows: number[][]) => Float32Array.from(rows.flat());

test("several captions per image and images per caption, with ties counted pessimistically", () => {
  // I0 and I2 are identical, so every score against them ties.
  const images = f32([
    [1, 0],
    [0, 1],
    [1, 0],
  ]);
  const texts = f32([
    [1, 0], // T0 → I0 (ties with I2, a false match: rank 1)
    [0, 1], // T1 → I1
    [0.9, 0.1], // T2 → I2 and I1 (best true I2 ties with false I0: rank 1)
    [0, 1], // T3 → I1
  ]);
  const r = retrievalRecall(images, texts, 2, [[0], [1], [2, 1], [1]], [1, 2]);
  assert.deepEqual(r.text_to_image, { "R@1": 0.5, "R@2": 1 });
  // I0: best T0 (rank 0). I1: T1, T2, T3 are true, T1 and T3 score 1 (rank 0).
  // I2: its only caption T2 scores 0.9 while false T0 scores 1 (rank 1).
  assert.deepEqual(r.image_to_text, { "R@1": 2 / 3, "R@2": 1 });
});

test("identical embeddings never count as a hit at 1", () => {
  const same = f32([
    [1, 0],
    [1, 0],
    [1, 0],
  ]);
  const r = retrievalRecall(same, same, 2, [[0], [1], [2]], [1, 2, 3]);
  assert.deepEqual(r.text_to_image, { "R@1": 0, "R@2": 0, "R@3": 1 });
  assert.deepEqual(r.image_to_text, { "R@1": 0, "R@2": 0, "R@3": 1 });
});

test("an image without captions stays in the gallery but is not an image→text query", () => {
  const images = f32([
    [1, 0],
    [0.8, 0.6],
  ]);
  const texts = f32([[0.7, 0.7]]);
  // The distractor I1 outscores the true I0 (0.98 > 0.7).
  const r = retrievalRecall(images, texts, 2, [[0]], [1, 2]);
  assert.deepEqual(r.text_to_image, { "R@1": 0, "R@2": 1 });
  assert.deepEqual(r.image_to_text, { "R@1": 1, "R@2": 1 });
});

test("blockwise recall equals a sort-based reference on random data", () => {
  const dim = 8;
  const nImages = 70;
  const nTexts = 150; // more than one query block in both directions
  const images = new Float32Array(nImages * dim);
  const texts = new Float32Array(nTexts * dim);
  fillNormal(images, streamKey(1, "images"));
  fillNormal(texts, streamKey(2, "texts"));
  const matches = Array.from({ length: nTexts }, (_, t) =>
    t % 5 === 0 ? [t % nImages, (t * 7) % nImages] : [t % nImages],
  );
  const ks = [1, 5, 10];
  const r = retrievalRecall(images, texts, dim, matches, ks);

  const score = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (a[i * dim + d] as number) * (b[j * dim + d] as number);
    return s;
  };
  const reference = (q: Float32Array, nq: number, g: Float32Array, ng: number, truth: number[][]) => {
    const hits = ks.map(() => 0);
    let counted = 0;
    for (let i = 0; i < nq; i++) {
      const tr = new Set(truth[i]);
      if (tr.size === 0) continue;
      counted++;
      // False items first among equal scores: the pessimistic order.
      const order = Array.from({ length: ng }, (_, j) => j).sort(
        (a, b) => score(q, i, g, b) - score(q, i, g, a) || Number(tr.has(a)) - Number(tr.has(b)),
      );
      const rank = order.findIndex((j) => tr.has(j));
      ks.forEach((k, x) => {
        if (rank < k) hits[x]! += 1;
      });
    }
    return Object.fromEntries(ks.map((k, x) => [`R@${k}`, (hits[x] as number) / counted]));
  };
  const imageToTexts: number[][] = Array.from({ length: nImages }, () => []);
  matches.forEach((m, t) => {
    for (const i of new Set(m)) imageToTexts[i]!.push(t);
  });
  assert.deepEqual(r.text_to_image, reference(texts, nTexts, images, nImages, matches));
  assert.deepEqual(r.image_to_text, reference(images, nImages, texts, nTexts, imageToTexts));
  assert.ok((r.text_to_image["R@10"] as number) > (r.text_to_image["R@1"] as number));
});

test("bad inputs are UserErrors", () => {
  const x = f32([[1, 0]]);
  assert.throws(() => retrievalRecall(x, x, 2, [[1]]), UserError);
  assert.throws(() => retrievalRecall(x, x, 2, [[0], [0]]), UserError);
  assert.throws(() => retrievalRecall(x, x, 3, [[0]]), UserError);
  assert.throws(() => retrievalRecall(x, x, 2, [[0]], [0]), UserError);
  assert.throws(() => retrievalRecall(x, x, 2, [[]]), /no image has a true match/);
});
