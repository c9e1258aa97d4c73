/**
 * Exact-search latency: top-10 over `n` random `dim`-d unit vectors, the median over `queries` single
 * queries (after a few warm-up queries, so V8 has optimized the scan).
 */

import { fillNormal, streamKey } from "../engine/random.js";
import { VectorIndex } from "../search/index.js";
import { median } from "./timing.js";

export interface SearchBench {
  search_vectors: number;
  search_dim: number;
  /** What `juxta search` uses: the scan on ONNX Runtime for an index this large. */
  search_median_ms: number;
  /** The same exact scan in JavaScript (small indexes use it). */
  search_js_median_ms: number;
  /** Whether both paths returned the same ids for every query. */
  search_paths_agree: boolean;
}

export async function benchSearch(
  opts: { n?: number; dim?: number; queries?: number; k?: number } = {},
): Promise<SearchBench> {
  const n = opts.n ?? 100_000;
  const dim = opts.dim ?? 256;
  const queries = opts.queries ?? 50;
  const k = opts.k ?? 10;
  const index = VectorIndex.create(dim);
  const chunk = 10_000;
  for (let i0 = 0; i0 < n; i0 += chunk) {
    const rows = Math.min(chunk, n - i0);
    const v = new Float32Array(rows * dim);
    fillNormal(v, streamKey(0, "search-bench", i0));
    index.add(
      Array.from({ length: rows }, (_, r) => `v${i0 + r}`),
      v,
    );
  }
  const q = new Float32Array((queries + 3) * dim);
  fillNormal(q, streamKey(1, "search-bench-queries"));
  const times: number[] = [];
  const jsTimes: number[] = [];
  let agree = true;
  for (let i = 0; i < queries + 3; i++) {
    const query = q.subarray(i * dim, (i + 1) * dim);
    let t0 = performance.now();
    const fast = await index.searchAsync(query, k);
    if (i >= 3) times.push(performance.now() - t0);
    t0 = performance.now();
    const exact = index.search(query, k);
    if (i >= 3) jsTimes.push(performance.now() - t0);
    agree &&= fast.map((h) => h.id).join() === exact.map((h) => h.id).join();
  }
  const ms = (xs: number[]) => Math.round(median(xs) * 1000) / 1000;
  return {
    search_vectors: n,
    search_dim: dim,
    search_median_ms: ms(times),
    search_js_median_ms: ms(jsTimes),
    search_paths_agree: agree,
  };
}
