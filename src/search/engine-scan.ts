/**
 * The exact scan on ONNX Runtime: one product of the queries with every stored vector and a TopK, in one
 * graph. MLAS reads the vectors at memory speed on all cores: top-10 over 100k 256-d vectors takes ~9 ms,
 * against ~35 ms for the JavaScript loop. Scores are float32 (the loop accumulates in float64), so
 * near-ties can order differently; ties keep insertion order (ONNX TopK puts the lower index first).
 */
import ort from "onnxruntime-node";
import { serializeModel } from "../engine/onnx/model.js";

/** A scan graph per (kind, dim), made once: `float32` scores queries against vectors, `int8` against codes. */
const sessions = new Map<string, Promise<ort.InferenceSession>>();

function session(kind: "float32" | "int8", dim: number): Promise<ort.InferenceSession> {
  const key = `${kind}:${dim}`;
  let s = sessions.get(key);
  if (!s) {
    s = ort.InferenceSession.create(kind === "float32" ? float32Graph(dim) : int8Graph(dim), {
      graphOptimizationLevel: "all",
      enableCpuMemArena: false,
      // Between scans the thread pool sleeps rather than spins: a spinning pool took 37 % more CPU per
      // scan of 8 queries (scratch run, 2 cores), CPU that a server's inference worker needs meanwhile.
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    });
    sessions.set(key, s);
  }
  return s;
}

const topOutputs = [
  { name: "top_scores", dtype: "float32", dims: ["queries", "k"] },
  { name: "top_rows", dtype: "int64", dims: ["queries", "k"] },
] as const;

/** queries [nq, dim] · vectors [rows, dim]ᵀ, then the top k of each query's row. */
function float32Graph(dim: number): Uint8Array {
  return serializeModel({
    nodes: [
      { op: "Gemm", inputs: ["queries", "vectors"], outputs: ["scores"], attrs: { transB: 1 } },
      { op: "TopK", inputs: ["scores", "k"], outputs: ["top_scores", "top_rows"], attrs: { axis: 1 } },
    ],
    initializers: [],
    inputs: [
      { name: "queries", dtype: "float32", dims: ["queries", dim] },
      { name: "vectors", dtype: "float32", dims: ["rows", dim] },
      { name: "k", dtype: "int64", dims: [1] },
    ],
    outputs: [...topOutputs],
    domains: {},
  });
}

/**
 * (codes [rows, dim] uint8 − 128) · queries [dim, m] int8 in int32, the m query codes combined into nq
 * queries by `combine` [m, nq] (each query is two codes, its residual the second), scaled per row,
 * transposed to [nq, rows], then the top k of each query. The codes are the left operand: MatMulInteger's
 * uint8 × int8 is the fast pairing on x86 (int8 × int8 measured 4× slower here), and the big matrix
 * streams through while the queries stay in cache.
 */
function int8Graph(dim: number): Uint8Array {
  return serializeModel({
    nodes: [
      { op: "MatMulInteger", inputs: ["codes", "queries", "zero"], outputs: ["dots"] },
      { op: "Cast", inputs: ["dots"], outputs: ["dots_f"], attrs: { to: 1 } },
      { op: "MatMul", inputs: ["dots_f", "combine"], outputs: ["combined"] },
      { op: "Mul", inputs: ["combined", "scales"], outputs: ["scaled"] },
      { op: "Transpose", inputs: ["scaled"], outputs: ["scores"], attrs: { perm: [1, 0] } },
      { op: "TopK", inputs: ["scores", "k"], outputs: ["top_scores", "top_rows"], attrs: { axis: 1 } },
    ],
    initializers: [],
    inputs: [
      { name: "codes", dtype: "uint8", dims: ["rows", dim] },
      { name: "queries", dtype: "int8", dims: [dim, "codes"] },
      { name: "zero", dtype: "uint8", dims: [] },
      { name: "combine", dtype: "float32", dims: ["codes", "queries"] },
      { name: "scales", dtype: "float32", dims: ["rows", 1] },
      { name: "k", dtype: "int64", dims: [1] },
    ],
    outputs: [...topOutputs],
    domains: {},
  });
}

/**
 * Stored values one run scans at most (16 MiB of float32): a large index is scanned in row chunks, one
 * run each, with the event loop free between them, since a run holds its thread (a server's other
 * requests wait for it). 100k × 256 is 7 runs of ~2–5 ms instead of one of 10–20 ms; the bytes read are
 * the same.
 */
const CHUNK_VALUES = 2 ** 22;

/**
 * Best `k` rows of `vectors` [rows, dim] for each query [nq, dim]: scores and row indices, best first
 * (ties to the lower row, as one TopK over all rows would give).
 */
export function engineTopK(
  queries: Float32Array,
  vectors: Float32Array,
  rows: number,
  dim: number,
  k: number,
  chunkValues = CHUNK_VALUES,
): Promise<TopRows> {
  const nq = queries.length / dim;
  return chunkedTopK(nq, rows, k, Math.floor(chunkValues / dim), (start, end, kk) =>
    runTopK(queries, vectors, start, end, dim, kk),
  );
}

/**
 * Best `k` rows of the int8 codes [rows, dim] for each of the nq queries: the queries' codes [dim, m] and
 * `combine` [m, nq] as int8Graph takes them. Approximate scores, best first; four times the float32
 * scan's rows per run (the same bytes).
 */
export function engineCandidates(
  queries: Int8Array,
  combine: Float32Array,
  nq: number,
  codes: Uint8Array,
  scales: Float32Array,
  rows: number,
  dim: number,
  k: number,
  chunkValues = 4 * CHUNK_VALUES,
): Promise<TopRows> {
  const m = queries.length / dim;
  return chunkedTopK(nq, rows, k, Math.floor(chunkValues / dim), async (start, end, kk) => {
    const s = await session("int8", dim);
    const out = await s.run({
      codes: new ort.Tensor("uint8", codes.subarray(start * dim, end * dim), [end - start, dim]),
      queries: new ort.Tensor("int8", queries, [dim, m]),
      zero: new ort.Tensor("uint8", Uint8Array.of(128), []),
      combine: new ort.Tensor("float32", combine, [m, nq]),
      scales: new ort.Tensor("float32", scales.subarray(start, end), [end - start, 1]),
      k: new ort.Tensor("int64", BigInt64Array.of(BigInt(kk)), [1]),
    });
    return {
      scores: out.top_scores!.data as Float32Array,
      rows: out.top_rows!.data as BigInt64Array,
      k: kk,
    };
  });
}

export interface TopRows {
  scores: Float32Array;
  rows: BigInt64Array;
  k: number;
}

/** The top `k` over `rows` rows, scanned `chunk` rows a run and merged (ties to the lower row). */
async function chunkedTopK(
  nq: number,
  rows: number,
  k: number,
  chunkRows: number,
  run: (start: number, end: number, k: number) => Promise<TopRows>,
): Promise<TopRows> {
  const kk = Math.min(k, rows);
  const chunk = Math.max(kk, 1, chunkRows);
  if (rows <= chunk) return run(0, rows, kk);
  // Each chunk's best kk, merged: candidates in row order, so a stable sort by score keeps ties in order.
  const found: { score: number; row: bigint }[][] = Array.from({ length: nq }, () => []);
  for (let start = 0; start < rows; start += chunk) {
    const end = Math.min(rows, start + chunk);
    const part = await run(start, end, Math.min(kk, end - start));
    for (let r = 0; r < nq; r++)
      for (let j = 0; j < part.k; j++)
        (found[r] as { score: number; row: bigint }[]).push({
          score: part.scores[r * part.k + j] as number,
          row: (part.rows[r * part.k + j] as bigint) + BigInt(start),
        });
  }
  const scores = new Float32Array(nq * kk);
  const top = new BigInt64Array(nq * kk);
  for (let r = 0; r < nq; r++) {
    const best = (found[r] as { score: number; row: bigint }[]).sort((a, b) => b.score - a.score);
    for (let j = 0; j < kk; j++) {
      scores[r * kk + j] = (best[j] as { score: number }).score;
      top[r * kk + j] = (best[j] as { row: bigint }).row;
    }
  }
  return { scores, rows: top, k: kk };
}

/** One run over rows [start, end) of `vectors`; row indices relative to `start`. */
async function runTopK(
  queries: Float32Array,
  vectors: Float32Array,
  start: number,
  end: number,
  dim: number,
  k: number,
): Promise<TopRows> {
  const nq = queries.length / dim;
  const s = await session("float32", dim);
  const out = await s.run({
    queries: new ort.Tensor("float32", queries, [nq, dim]),
    vectors: new ort.Tensor("float32", vectors.subarray(start * dim, end * dim), [end - start, dim]),
    k: new ort.Tensor("int64", BigInt64Array.of(BigInt(k)), [1]),
  });
  return {
    scores: out.top_scores!.data as Float32Array,
    rows: out.top_rows!.data as BigInt64Array,
    k,
  };
}
