/**
 * Worker thread of the Loader: receives the PixelStore's shared memory once (workerData), then batch jobs
 * (epoch + sample indices), and answers each with its augmented pixels, transferring the buffer (no copy).
 */
import { parentPort, workerData } from "node:worker_threads";
import { augmentBatch, type BatchSpec } from "../image/batch.js";
import { PixelStore, type PixelStoreData } from "../image/store.js";

export interface WorkerInit {
  store: PixelStoreData;
  spec: BatchSpec;
}

export interface WorkerJob {
  id: number;
  epoch: number;
  indices: number[];
}

export type WorkerReply = { id: number; pixels: Float32Array } | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error("loader-worker must run in a worker thread");
const init = workerData as WorkerInit;
const store = PixelStore.fromData(init.store);
port.on("message", (job: WorkerJob) => {
  let reply: WorkerReply;
  try {
    reply = { id: job.id, pixels: augmentBatch(store, init.spec, job.epoch, job.indices) };
  } catch (e) {
    reply = { id: job.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(reply, "pixels" in reply ? [reply.pixels.buffer as ArrayBuffer] : []);
});
