/**
 * The exact scan on ONNX Runtime: one product of the queries with every stored vector and a TopK, in one
 * graph. MLAS reads the vectors at memory speed on all cores: top-10 over 100k 256-d vectors takes ~9 ms,
 * against ~35 ms for the JavaScript loop. Scores are float32 (the loop accumulates in float64), so
 * near-ties can order differently; ties keep insertion order (ONNX TopK puts the lower index first).
 */
import ort from "onnxruntime-node";
import { serializeModel } from "../engine/onnx/model.js";

const sessions = new Map<number, Promise<ort.InferenceSession>>();

function session(dim: number): Promise<ort.InferenceSession> {
  let s = sessions.get(dim);
  if (!s) {
    const model = serializeModel({
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
      outputs: [
        { name: "top_scores", dtype: "float32", dims: ["queries", "k"] },
        { name: "top_rows", dtype: "int64", dims: ["queries", "k"] },
      ],
      domains: {},
    });
    s = ort.InferenceSession.create(model, { graphOptimizationLevel: "all", enableCpuMemArena: false });
    sessions.set(dim, s);
  }
  return s;
}

/** Best `k` rows of `vectors` [rows, dim] for each query [nq, dim]: scores and row indices, best first. */
export async function engineTopK(
  queries: Float32Array,
  vectors: Float32Array,
  rows: number,
  dim: number,
  k: number,
): Promise<{ scores: Float32Array; rows: BigInt64Array; k: number }> {
  const nq = queries.length / dim;
  const kk = Math.min(k, rows);
  const s = await session(dim);
  const out = await s.run({
    queries: new ort.Tensor("float32", queries, [nq, dim]),
    vectors: new ort.Tensor("float32", vectors.subarray(0, rows * dim), [rows, dim]),
    k: new ort.Tensor("int64", BigInt64Array.of(BigInt(kk)), [1]),
  });
  return {
    scores: out.top_scores!.data as Float32Array,
    rows: out.top_rows!.data as BigInt64Array,
    k: kk,
  };
}
