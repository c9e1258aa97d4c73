/**
 * Builds an HNSW graph (usearch) off the main thread: usearch's `add` blocks its caller for the whole
 * build (minutes for a million vectors), so `HnswGraph.build` runs it here and loads the saved file.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type HnswParams, openUsearch, usearchConfig } from "./hnsw.js";

export interface BuildRequest {
  vectors: Float32Array;
  dim: number;
  params: HnswParams;
  file: string;
}

export type BuildReply = { progress: number } | { done: true } | { error: string };

const { vectors, dim, params, file } = workerData as BuildRequest;
const port = parentPort;
if (!port) throw new Error("search/hnsw-worker.js runs as a worker thread");
try {
  const { Index } = (await openUsearch()).default;
  const graph = new Index(usearchConfig(dim, params));
  const n = vectors.length / dim;
  const chunk = 10_000;
  for (let i = 0; i < n; i += chunk) {
    const end = Math.min(n, i + chunk);
    const keys = new BigUint64Array(end - i);
    for (let r = 0; r < keys.length; r++) keys[r] = BigInt(i + r);
    graph.add(keys, vectors.subarray(i * dim, end * dim), params.threads ?? 0);
    port.postMessage({ progress: end } satisfies BuildReply);
  }
  graph.save(file);
  port.postMessage({ done: true } satisfies BuildReply);
} catch (e) {
  port.postMessage({ error: (e as Error).message } satisfies BuildReply);
}
