/**
 * `engineTopK` for browser bundles (package.json "browser" maps engine-scan.js here): there is no ONNX
 * Runtime for Node in a browser, so the large-index scan runs the exact JavaScript loop instead, with the
 * same contract (top `k` rows of every query, removed rows included, best first; ties to the lower row).
 */
import { dot, TopK } from "./kernels.js";

export interface TopRows {
  scores: Float32Array;
  rows: BigInt64Array;
  k: number;
}

export async function engineTopK(
  queries: Float32Array,
  vectors: Float32Array,
  rows: number,
  dim: number,
  k: number,
): Promise<TopRows> {
  return topRows(queries.length / dim, rows, k, (q, r) => dot(queries, q * dim, vectors, r * dim, dim));
}

/** `engineCandidates` of engine-scan.ts: the int8 codes' approximate top `k` of each query, in JavaScript. */
export async function engineCandidates(
  queries: Int8Array,
  combine: Float32Array,
  nq: number,
  codes: Uint8Array,
  scales: Float32Array,
  rows: number,
  dim: number,
  k: number,
): Promise<TopRows> {
  const m = queries.length / dim;
  const dots = new Float64Array(m);
  return topRows(nq, rows, k, (q, r) => {
    dots.fill(0);
    for (let j = 0; j < dim; j++) {
      const c = (codes[r * dim + j] as number) - 128;
      for (let i = 0; i < m; i++) dots[i] = (dots[i] as number) + c * (queries[j * m + i] as number);
    }
    let s = 0;
    for (let i = 0; i < m; i++) s += (dots[i] as number) * (combine[i * nq + q] as number);
    return s * (scales[r] as number);
  });
}

/** The best `k` of `rows` rows for each of `nq` queries by `score(query, row)`, ties to the lower row. */
function topRows(nq: number, rows: number, k: number, score: (q: number, r: number) => number): TopRows {
  const kk = Math.min(k, rows);
  const scores = new Float32Array(nq * kk);
  const top = new BigInt64Array(nq * kk);
  const heap = new TopK(kk);
  for (let q = 0; q < nq; q++) {
    heap.clear();
    for (let r = 0; r < rows; r++) heap.push(score(q, r), r);
    heap.sorted().forEach(({ index, score }, j) => {
      scores[q * kk + j] = score;
      top[q * kk + j] = BigInt(index);
    });
  }
  return { scores, rows: top, k: kk };
}
