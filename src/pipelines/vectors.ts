/** Embedding tensors as the pipelines return them, and row normalization. */
import { normalizeRow } from "../search/kernels.js";

/** Row-major [n, dim] float32 embeddings, as transformers.js's Tensor holds them (`data`, `dims`). */
export interface EmbeddingTensor {
  data: Float32Array;
  dims: [number, number];
  /** The rows as plain arrays. */
  tolist(): number[][];
}

export function embeddingTensor(data: Float32Array, dim: number): EmbeddingTensor {
  const n = dim === 0 ? 0 : data.length / dim;
  return {
    data,
    dims: [n, dim],
    tolist: () => Array.from({ length: n }, (_, r) => Array.from(data.subarray(r * dim, (r + 1) * dim))),
  };
}

/** L2-normalized copy of row-major vectors; a zero or non-finite row is an error naming `what`. */
export function normalizedRows(x: Float32Array, dim: number, what: string): Float32Array {
  const out = x.slice();
  for (let r = 0; r < out.length / dim; r++)
    if (!normalizeRow(out, r, dim)) throw new Error(`${what} ${r}: zero or non-finite embedding`);
  return out;
}
