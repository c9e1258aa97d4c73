/**
 * Exact-search latency: top-10 over `n` random `dim`-d unit vectors, the median over `queries` single
 * queries (after a few warm-up queries, so V8 has optimized the scan).
 */
import { median } from "../bench/timing.js";
import { fillNormal, streamKey } from "../engine/random.js";
import { VectorIndex } from "./index.js";

export interface SearchBench {
  search_vectors: number;
  search_dim: number;
  search_median_ms: number;
}

export function benchSearch(
  opts: { n?: number; dim?: number; queries?: number; k?: number } = {},
): SearchBench {
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
  for (let i = 0; i < queries + 3; i++) {
    const query = q.subarray(i * dim, (i + 1) * dim);
    const t0 = performance.now();
    index.search(query, k);
    if (i >= 3) times.push(performance.now() - t0);
  }
  return { search_vectors: n, search_dim: dim, search_median_ms: Math.round(median(times) * 1000) / 1000 };
}
