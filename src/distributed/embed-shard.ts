/**
 * Embedding one shard in a worker: the model opened once per worker thread and kept for every shard after,
 * the handle's skipping mode leaving out an unreadable file and naming it (the shard still finishes),
 * the result written atomically beside the plan.
 */

import { modelFingerprint } from "../handle/fingerprint.js";
import type { ModelHandle } from "../handle/model.js";
import { openModel } from "../handle/open.js";
import { UserError } from "../util/errors.js";
import { type EmbedPlan, readPlan, type Shard, writeShard } from "./plan.js";

/** Images decoded and embedded together: one ONNX run per this many. */
const CHUNK = 64;

let opened: { key: string; embedder: ModelHandle } | undefined;

async function embedderFor(plan: EmbedPlan): Promise<ModelHandle> {
  const key = `${plan.model}\n${plan.tokenizer ?? ""}\n${plan.fingerprint}`;
  if (opened?.key === key) return opened.embedder;
  await opened?.embedder.dispose();
  opened = undefined;
  const found = modelFingerprint(plan.model);
  if (found !== plan.fingerprint)
    throw new UserError(
      `${plan.model}: its weights (sha256 ${found.slice(0, 12)}…) are not the ones this plan was made with (${plan.fingerprint.slice(0, 12)}…)`,
    );
  const embedder = await openModel(plan.model, { tokenizer: plan.tokenizer });
  opened = { key, embedder };
  return embedder;
}

export interface ShardJob {
  /** The output folder holding plan.json. */
  out: string;
  shard: string;
}

export interface ShardResult {
  embedded: number;
  skipped: number;
}

/** Embed one shard of the plan in `job.out` and write its file; `onProgress` gets the fraction done. */
export async function embedShard(job: ShardJob, onProgress?: (done: number) => void): Promise<ShardResult> {
  const plan = readPlan(job.out);
  const shard = plan.shards.find((s) => s.id === job.shard);
  if (!shard) throw new UserError(`${job.out}: the plan has no shard ${job.shard}`);
  const embedder = await embedderFor(plan);
  const ids: string[] = [];
  const skipped: string[] = [];
  const parts: Float32Array[] = [];
  for (let start = 0; start < shard.items.length; start += CHUNK) {
    const paths = shard.items.slice(start, start + CHUNK);
    const r = await embedder.embedImagesSkipping(paths);
    parts.push(r.embeds);
    ids.push(...r.kept.map((i) => paths[i] as string));
    skipped.push(...r.skipped.map((s) => `${paths[s.index]}: ${s.reason}`));
    onProgress?.(Math.min(1, (start + CHUNK) / shard.items.length));
  }
  const dim = embedder.dim;
  const embeds = new Float32Array(ids.length * dim);
  let offset = 0;
  for (const p of parts) {
    embeds.set(p, offset);
    offset += p.length;
  }
  writeShard(job.out, plan, shard as Shard, { ids, embeds, dim, skipped });
  return { embedded: ids.length, skipped: skipped.length };
}
