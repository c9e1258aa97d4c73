/**
 * Worker thread of the loaders. The cached loader sends the PixelStore's shared memory once (workerData),
 * then batch jobs (epoch + sample indices); the streamed loader sends each batch's encoded images with their
 * positions, decoded here. Each job is answered with its augmented pixels, transferring the buffer (no copy).
 */
import { parentPort, workerData } from "node:worker_threads";
import { augmentBatch, type BatchSpec } from "../image/batch.js";
import { PixelStore, type PixelStoreData } from "../image/store.js";
import { type DecodeSpec, decodeBatch, type Replacement } from "./decode-batch.js";
import type { ImageRef } from "./types.js";

export type WorkerInit = { spec: BatchSpec } & (
  | { store: PixelStoreData; decode?: undefined }
  | { decode: DecodeSpec; store?: undefined }
);

export interface WorkerJob {
  id: number;
  epoch: number;
  /** Store indices (cached), or the samples' positions in the epoch's stream (streamed). */
  indices: number[];
  /** Streamed: the samples' images, to decode. */
  images?: ImageRef[];
}

export type WorkerReply =
  | { id: number; pixels: Float32Array; replaced?: Replacement[] }
  | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error("loader-worker must run in a worker thread");
const init = workerData as WorkerInit;
const store = init.store ? PixelStore.fromData(init.store) : undefined;

async function answer(job: WorkerJob): Promise<WorkerReply> {
  if (store) return { id: job.id, pixels: augmentBatch(store, init.spec, job.epoch, job.indices) };
  const r = await decodeBatch(job.images ?? [], job.indices, init.spec, job.epoch, init.decode as DecodeSpec);
  return { id: job.id, pixels: r.pixels, replaced: r.replaced };
}

port.on("message", (job: WorkerJob) => {
  answer(job).then(
    (reply) => port.postMessage(reply, "pixels" in reply ? [reply.pixels.buffer as ArrayBuffer] : []),
    (e: unknown) =>
      port.postMessage({ id: job.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
  );
});
