/** `juxta/distributed`: corpus embedding split into shards on a BullMQ (Redis) queue, and merging the shards. */
export { type MergeResult, mergeShards } from "../distributed/merge.js";
export {
  DEFAULT_QUEUE,
  DEFAULT_SHARD_SIZE,
  type EnqueueOptions,
  type EnqueueResult,
  embedQueueStatus,
  enqueueEmbedding,
  type QueueRef,
  type QueueStatus,
  runEmbedWorker,
  type WorkerOptions,
} from "../distributed/queue.js";
