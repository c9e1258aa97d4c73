/**
 * BullMQ's sandboxed processor for embedding shards. It runs in a worker thread of `juxta worker`, so a long
 * ONNX run blocks only this thread while the worker's main thread keeps renewing the job's lock.
 */
import type { SandboxedJob } from "bullmq";
import { embedShard, type ShardJob, type ShardResult } from "./embed-shard.js";

export default async function process(job: SandboxedJob<ShardJob, ShardResult>): Promise<ShardResult> {
  return embedShard(job.data, (done) => {
    void job.updateProgress(Math.round(done * 100));
  });
}
