/**
 * Distributed corpus embedding on a BullMQ queue (Redis): `enqueueEmbedding` splits a corpus into shards
 * and puts one job per unfinished shard on the queue; `runEmbedWorker` (any number of them, on any machine
 * that sees the images and the output folder) takes jobs and embeds shards in a worker thread; a worker
 * that dies holding a shard loses its lock and the shard goes back to the queue. `embedQueueStatus` says
 * how far it is, and `mergeShards` (merge.ts) builds the index once every shard is finished.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { listImages } from "../data/image-set.js";
import type { DatasetOptions } from "../data/options.js";
import type { SkipLog } from "../data/types.js";
import { modelFingerprint } from "../handle/fingerprint.js";
import { detectFormat } from "../pretrained/open.js";
import { OptionError, UserError } from "../util/errors.js";
import type { ShardJob, ShardResult } from "./embed-shard.js";
import { type EmbedPlan, finishedShards, readPlan, splitShards, writePlan } from "./plan.js";

export const DEFAULT_QUEUE = "juxta-embed";
export const DEFAULT_SHARD_SIZE = 1000;

export interface QueueRef {
  /** redis://[user:password@]host:port[/db] (or rediss:// for TLS). */
  url: string;
  /** Queue name; default "juxta-embed". */
  name?: string;
}

function connection(url: string) {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`queue '${url}': expected a URL such as redis://127.0.0.1:6379`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:")
    throw new UserError(`queue '${url}': expected a redis:// or rediss:// URL, got ${parsed.protocol}`);
  // Workers block on Redis; BullMQ needs retries left to it (maxRetriesPerRequest: null).
  return { url, maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(n * 200, 2000) };
}

function openQueue(ref: QueueRef): Queue<ShardJob, ShardResult> {
  return new Queue<ShardJob, ShardResult>(ref.name ?? DEFAULT_QUEUE, { connection: connection(ref.url) });
}

/** The job id of a shard of the plan in `out`: the same shard of the same plan is never queued twice. */
function jobId(out: string, shard: string): string {
  return `${createHash("sha256").update(out).digest("hex").slice(0, 12)}-${shard}`;
}

export interface EnqueueOptions {
  queue: QueueRef;
  /** Model folder (a Juxta run, Hugging Face or OpenCLIP folder) every worker can read at this path. */
  model: string;
  tokenizer?: string;
  /** Images: a folder, an image list (.txt) or a data set of image files. */
  images: string;
  /** Output folder for plan.json and the shards' embeddings, seen by every worker. */
  out: string;
  shardSize?: number;
  dataset?: DatasetOptions;
  log?: SkipLog;
}

export interface EnqueueResult {
  items: number;
  shards: number;
  /** Shards already finished (from an earlier run): not queued again. */
  finished: number;
  /** Jobs put on the queue now (failed ones are retried, waiting or running ones left as they are). */
  queued: number;
}

export async function enqueueEmbedding(opts: EnqueueOptions): Promise<EnqueueResult> {
  const out = resolve(opts.out);
  const model = resolve(opts.model);
  detectFormat(model);
  const items = await listImages(opts.images, { dataset: opts.dataset, log: opts.log });
  const notFiles = items.filter((im) => im.ref.kind !== "file");
  if (notFiles.length > 0)
    throw new UserError(
      `${opts.images}: distributed embedding reads image files that every worker can open; ${notFiles[0]?.id} is not a file (unpack shards or binary sets first)`,
    );
  if (items.length === 0) throw new UserError(`${opts.images}: no images to embed`);
  const plan: EmbedPlan = {
    format: "juxta-embed-plan",
    version: 1,
    model,
    ...(opts.tokenizer ? { tokenizer: resolve(opts.tokenizer) } : {}),
    fingerprint: modelFingerprint(model),
    shards: splitShards([...new Set(items.map((im) => im.id))].sort(), opts.shardSize ?? DEFAULT_SHARD_SIZE),
  };
  if (existsSync(join(out, "plan.json"))) {
    const old = readPlan(out);
    if (old.fingerprint !== plan.fingerprint || JSON.stringify(old.shards) !== JSON.stringify(plan.shards))
      throw new OptionError(
        `${opts.out} holds the plan of another corpus or model; pick another {out} or remove it`,
      );
  } else writePlan(out, plan);
  const done = finishedShards(out, plan);
  const queue = openQueue(opts.queue);
  let queued = 0;
  try {
    for (const shard of plan.shards) {
      if (done.has(shard.id)) continue;
      const id = jobId(out, shard.id);
      const existing = await queue.getJob(id);
      const state = existing ? await existing.getState() : undefined;
      if (state === "failed") {
        await existing?.retry();
        queued++;
      } else if (state === "completed" || state === undefined) {
        // A completed job whose file is gone (deleted, or another model's) is queued anew.
        await existing?.remove();
        await queue.add(
          "embed-shard",
          { out, shard: shard.id },
          {
            jobId: id,
            attempts: 3,
            backoff: { type: "exponential", delay: 1000 },
            removeOnComplete: true,
            removeOnFail: false,
          },
        );
        queued++;
      }
    }
  } finally {
    await queue.close();
  }
  return { items: items.length, shards: plan.shards.length, finished: done.size, queued };
}

export interface QueueStatus {
  shards: number;
  /** Shards whose embeddings are written. */
  finished: number;
  items: number;
  counts: { waiting: number; active: number; delayed: number; failed: number };
  /** Failed shards and why (after all their attempts). */
  failures: { shard: string; reason: string }[];
}

export async function embedQueueStatus(ref: QueueRef, outDir: string): Promise<QueueStatus> {
  const out = resolve(outDir);
  const plan = readPlan(out);
  const queue = openQueue(ref);
  try {
    const c = await queue.getJobCounts("waiting", "active", "delayed", "failed", "prioritized");
    const prefix = jobId(out, "");
    const failed = await queue.getFailed();
    return {
      shards: plan.shards.length,
      finished: finishedShards(out, plan).size,
      items: plan.shards.reduce((n, s) => n + s.items.length, 0),
      counts: {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
      },
      failures: failed
        .filter((j) => j.id?.startsWith(prefix))
        .map((j) => ({ shard: j.data.shard, reason: j.failedReason })),
    };
  } finally {
    await queue.close();
  }
}

export interface WorkerOptions {
  queue: QueueRef;
  /** Shards embedded at once by this worker (each in its own thread); default 1. */
  concurrency?: number;
  /** How long a shard stays locked by a worker that stopped answering, before it is retried elsewhere. */
  lockSeconds?: number;
  /** Stops the worker (after the shards it is embedding). */
  signal?: AbortSignal;
  /** A line per event (shard started, finished, failed). */
  log?: (line: string) => void;
}

/** Take and embed shards until `signal` aborts. */
export async function runEmbedWorker(opts: WorkerOptions): Promise<void> {
  const lockDuration = Math.round((opts.lockSeconds ?? 30) * 1000);
  if (!(lockDuration >= 500)) throw new UserError(`lock time must be ≥ 0.5 s, got ${opts.lockSeconds}`);
  const log = opts.log ?? (() => {});
  const worker = new Worker<ShardJob, ShardResult>(opts.queue.name ?? DEFAULT_QUEUE, processorFile(), {
    connection: connection(opts.queue.url),
    useWorkerThreads: true,
    concurrency: opts.concurrency ?? 1,
    lockDuration,
    stalledInterval: lockDuration,
    maxStalledCount: 3,
  });
  const started = new Map<string, number>();
  worker.on("active", (job) => {
    started.set(job.id ?? "", Date.now());
    log(`shard ${job.data.shard}: started (attempt ${job.attemptsMade + 1})`);
  });
  worker.on("completed", (job, result) => {
    const s = (Date.now() - (started.get(job.id ?? "") ?? Date.now())) / 1000;
    log(
      `shard ${job.data.shard}: ${result.embedded} images embedded${result.skipped ? `, ${result.skipped} skipped` : ""} in ${s.toFixed(1)} s`,
    );
  });
  worker.on("failed", (job, err) => log(`shard ${job?.data.shard ?? "?"}: failed: ${err.message}`));
  worker.on("error", (err) => log(`queue error: ${err.message}`));
  await worker.waitUntilReady();
  log(`worker ready on ${opts.queue.name ?? DEFAULT_QUEUE} (concurrency ${opts.concurrency ?? 1})`);
  await new Promise<void>((resolveStop) => {
    if (opts.signal?.aborted) resolveStop();
    opts.signal?.addEventListener("abort", () => resolveStop(), { once: true });
  });
  await worker.close();
}

/** The compiled processor beside this file (a worker thread loads it by path). */
function processorFile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const js = join(here, "processor.js");
  return existsSync(js) ? js : join(here, "processor.ts");
}
