/**
 * Training a CLIP-style byte-level BPE: words from CLIP's cleaning and split, spelled in bytes (the last
 * with `</w>`), then the most frequent adjacent pair merged, again and again. Pair counts are kept up to
 * date incrementally (only the words holding the merged pair are revisited) and the most frequent pair is
 * found through a heap, so a few MB of captions train in seconds.
 */
import { UserError } from "../util/errors.js";
import { BYTE_ORDER } from "./bytes.js";
import { clipClean, splitPattern } from "./clean.js";
import { clipVocab } from "./formats.js";
import { Heap } from "./heap.js";
import { END_TOKEN, PAIR_STRIDE, START_TOKEN, Tokenizer } from "./tokenizer.js";

export interface BpeTrainOptions {
  /** Tokens wanted, the 512 byte symbols and 2 specials included. */
  vocabSize: number;
  /** Pairs seen fewer times than this are not merged, so the vocabulary may end smaller. Default 2. */
  minFrequency?: number;
  /** Called every 1000 merges with the tokens learned so far and the number wanted. */
  onProgress?: (done: number, total: number) => void;
}

interface Candidate {
  count: number;
  left: number;
  right: number;
}

/** Distinct words of a corpus (byte-level symbol ids, as in OpenAI's vocabulary order) and their counts. */
function countWords(texts: Iterable<string>): { words: number[][]; freq: number[] } {
  const counts = new Map<string, number>();
  const pattern = splitPattern([START_TOKEN, END_TOKEN]);
  const specials = new Set([START_TOKEN, END_TOKEN]);
  for (const text of texts)
    for (const match of clipClean(text).matchAll(pattern))
      if (!specials.has(match[0])) counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
  const byteId = new Int32Array(256);
  BYTE_ORDER.forEach((b, id) => {
    byteId[b] = id;
  });
  const utf8 = new TextEncoder();
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [word, count] of counts) {
    const symbols = Array.from(utf8.encode(word), (b) => byteId[b] as number);
    symbols[symbols.length - 1] = (symbols[symbols.length - 1] as number) + 256; // its `</w>` form
    words.push(symbols);
    freq.push(count);
  }
  return { words, freq };
}

/**
 * Learns merges from texts (cleaned and split as CLIP does) until the vocabulary has `vocabSize` tokens or no
 * pair is frequent enough. Ties go to the pair with the lower left id, then the lower right id. The
 * vocabulary is laid out as OpenAI's: bytes, bytes with `</w>`, one token per merge, start and end tokens;
 * a merge that spells an existing token again reuses that token's id.
 */
export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): Tokenizer {
  const base = clipVocab([]).slice(0, 512);
  const { vocabSize, minFrequency = 2, onProgress } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < base.length + 2 || vocabSize > PAIR_STRIDE)
    throw new UserError(
      `vocabulary size must be an integer from ${base.length + 2} to ${PAIR_STRIDE}, got ${vocabSize}`,
    );
  const { words, freq } = countWords(texts);
  const tokens = [...base];
  const ids = new Map(tokens.map((t, id) => [t, id]));
  const merges: [string, string][] = [];
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const heap = new Heap<Candidate>(
    (x, y) =>
      x.count > y.count ||
      (x.count === y.count && (x.left < y.left || (x.left === y.left && x.right < y.right))),
  );
  const add = (key: number, by: number) => {
    const count = (pairCount.get(key) ?? 0) + by;
    if (count > 0) pairCount.set(key, count);
    else pairCount.delete(key);
  };
  words.forEach((w, wi) => {
    for (let i = 0; i + 1 < w.length; i++) {
      const key = (w[i] as number) * PAIR_STRIDE + (w[i + 1] as number);
      add(key, freq[wi] as number);
      const holders = pairWords.get(key);
      if (holders) holders.push(wi);
      else pairWords.set(key, [wi]);
    }
  });
  for (const [key, count] of pairCount)
    heap.push({ count, left: Math.floor(key / PAIR_STRIDE), right: key % PAIR_STRIDE });

  const wanted = vocabSize - 2 - base.length;
  const visited = new Int32Array(words.length).fill(-1);
  while (tokens.length < vocabSize - 2) {
    // Heap entries go stale when counts change; a fresh entry was pushed then, so skip until one agrees.
    let best = heap.pop();
    while (best && pairCount.get(best.left * PAIR_STRIDE + best.right) !== best.count) best = heap.pop();
    if (!best || best.count < minFrequency) break;
    const { left, right } = best;
    const key = left * PAIR_STRIDE + right;
    const text = (tokens[left] as string) + (tokens[right] as string);
    let merged = ids.get(text);
    if (merged === undefined) {
      merged = tokens.push(text) - 1;
      ids.set(text, merged);
    }
    merges.push([tokens[left] as string, tokens[right] as string]);
    const changed = new Set<number>();
    for (const wi of pairWords.get(key) ?? []) {
      if (visited[wi] === merges.length) continue;
      visited[wi] = merges.length;
      const w = words[wi] as number[];
      const f = freq[wi] as number;
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === left && w[i + 1] === right) {
          out.push(merged);
          i++;
        } else out.push(w[i] as number);
      }
      if (out.length === w.length) continue; // the pair left this word in an earlier merge
      for (let i = 0; i + 1 < w.length; i++) {
        const k = (w[i] as number) * PAIR_STRIDE + (w[i + 1] as number);
        add(k, -f);
        changed.add(k);
      }
      for (let i = 0; i + 1 < out.length; i++) {
        const k = (out[i] as number) * PAIR_STRIDE + (out[i + 1] as number);
        add(k, f);
        changed.add(k);
        if (out[i] === merged || out[i + 1] === merged) {
          const holders = pairWords.get(k);
          if (holders) holders.push(wi);
          else pairWords.set(k, [wi]);
        }
      }
      words[wi] = out;
    }
    pairWords.delete(key);
    for (const k of changed) {
      const count = pairCount.get(k);
      if (count !== undefined)
        heap.push({ count, left: Math.floor(k / PAIR_STRIDE), right: k % PAIR_STRIDE });
    }
    if (onProgress && merges.length % 1000 === 0) onProgress(tokens.length - base.length, wanted);
  }
  return new Tokenizer({ vocab: [...tokens, START_TOKEN, END_TOKEN], merges });
}
