/**
 * `engineTopK` for browser bundles (package.json "browser" maps engine-scan.js here): there is no ONNX
 * Runtime for Node in a browser, so the large-index scan runs the exact JavaScript loop instead, with the
 * same contract (top `k` rows of every query, removed rows included, best first; ties to the lower row).
 */
import { dot, TopK } from "./kernels.js";

export async function engineTopK(
  queries: Float32Array,
  vectors: Float32Array,
  rows: number,
  dim: number,
  k: number,
): Promise<{ scores: Float32Array; rows: BigInt64Array; k: number }> {
  const nq = queries.length / dim;
  const kk = Math.min(k, rows);
  const scores = new Float32Array(nq * kk);
  const top = new BigInt64Array(nq * kk);
  const heap = new TopK(kk);
  for (let q = 0; q < nq; q++) {
    heap.clear();
    for (let r = 0; r < rows; r++) heap.push(dot(queries, q * dim, vectors, r * dim, dim), r);
    heap.sorted().forEach(({ index, score }, j) => {
      scores[q * kk + j] = score;
      top[q * kk + j] = BigInt(index);
    });
  }
  return { scores, rows: top, k: kk };
}
