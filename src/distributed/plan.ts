/**
 * A corpus split into shards for distributed embedding. `plan.json` in the output folder lists the model
 * (with a fingerprint of its weights) and every shard: its id (a content hash of its sorted file list,
 * so the same files always make the same shard) and its image paths. Each finished shard is one
 * `shards/<id>.safetensors` file, written atomically by whichever worker embedded it: a shard is
 * finished exactly when its file is there and says it holds that shard of that model.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { inputError, jsonErrorMessage, UserError } from "../util/errors.js";
import { ensureDir, writeJsonAtomic } from "../util/fs.js";

export const PLAN_FILE = "plan.json";
const FORMAT = "juxta-embed-plan";
const SHARD_DIR = "shards";

export interface Shard {
  /** Hex content hash of the shard's file list. */
  id: string;
  /** Absolute image paths, embedded in this order. */
  items: string[];
}

export interface EmbedPlan {
  format: typeof FORMAT;
  version: 1;
  /** Absolute path of the model folder every worker opens. */
  model: string;
  tokenizer?: string;
  /** sha256 of the model's weights file: a worker with other weights at that path refuses the shard. */
  fingerprint: string;
  shards: Shard[];
}

/** Consecutive runs of `size` paths, each named by the hash of its paths. */
export function splitShards(paths: readonly string[], size: number): Shard[] {
  if (!Number.isInteger(size) || size < 1)
    throw new UserError(`shard size must be an integer ≥ 1, got ${size}`);
  const shards: Shard[] = [];
  for (let i = 0; i < paths.length; i += size) {
    const items = paths.slice(i, i + size);
    const id = createHash("sha256").update(items.join("\n")).digest("hex").slice(0, 20);
    shards.push({ id, items });
  }
  return shards;
}

export function shardFile(out: string, id: string): string {
  return join(out, SHARD_DIR, `${id}.safetensors`);
}

export function writePlan(out: string, plan: EmbedPlan): void {
  ensureDir(join(out, SHARD_DIR));
  writeJsonAtomic(join(out, PLAN_FILE), plan, 0);
}

export function readPlan(out: string): EmbedPlan {
  const file = join(resolve(out), PLAN_FILE);
  if (!existsSync(file))
    throw new UserError(
      `${out}: no ${PLAN_FILE} here (start a distributed embedding with juxta embed --queue)`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${jsonErrorMessage(e)})`);
  }
  const p = raw as Partial<EmbedPlan>;
  if (p === null || typeof p !== "object" || p.format !== FORMAT)
    throw inputError({ file, field: "format" }, `expected '${FORMAT}'`);
  if (typeof p.model !== "string") throw inputError({ file, field: "model" }, "expected a folder path");
  if (typeof p.fingerprint !== "string") throw inputError({ file, field: "fingerprint" }, "expected a hash");
  if (!Array.isArray(p.shards)) throw inputError({ file, field: "shards" }, "expected a list");
  for (const [i, s] of p.shards.entries())
    if (typeof s?.id !== "string" || !Array.isArray(s.items) || !s.items.every((x) => typeof x === "string"))
      throw inputError({ file, field: `shards[${i}]` }, "expected {id, items: [paths]}");
  return p as EmbedPlan;
}

/** Write a shard's embeddings [n, dim] (rows in `ids` order) and what they are, atomically. */
export function writeShard(
  out: string,
  plan: EmbedPlan,
  shard: Shard,
  result: { ids: string[]; embeds: Float32Array; dim: number; skipped: string[] },
): void {
  const file = shardFile(out, shard.id);
  // A worker killed mid-write leaves a temporary file; it is garbage once a new write of the shard starts.
  removeStaleTemps(out, shard.id);
  writeSafetensors(
    file,
    { image_embeds: { dtype: "F32", shape: [result.ids.length, result.dim], data: result.embeds } },
    {
      shard: shard.id,
      fingerprint: plan.fingerprint,
      ids: JSON.stringify(result.ids),
      skipped: JSON.stringify(result.skipped),
    },
  );
}

export interface ShardEmbeddings {
  ids: string[];
  embeds: Float32Array;
  dim: number;
  skipped: string[];
}

/** A finished shard's embeddings, or undefined when it is not finished (absent, or for another model). */
export function readShard(out: string, plan: EmbedPlan, shard: Shard): ShardEmbeddings | undefined {
  const file = shardFile(out, shard.id);
  if (!existsSync(file)) return undefined;
  const st = readSafetensors(file);
  const meta = st.metadata ?? {};
  if (meta.shard !== shard.id || meta.fingerprint !== plan.fingerprint) return undefined;
  const t = st.tensors.get("image_embeds");
  if (t?.dtype !== "F32" || t.shape.length !== 2)
    throw inputError({ file, field: "image_embeds" }, "expected a float32 [n, dim] tensor");
  const ids = JSON.parse(meta.ids ?? "[]") as string[];
  if (ids.length !== t.shape[0])
    throw inputError({ file, field: "ids" }, `${ids.length} ids for ${t.shape[0]} rows`);
  return {
    ids,
    embeds: t.data as Float32Array,
    dim: t.shape[1] as number,
    skipped: JSON.parse(meta.skipped ?? "[]"),
  };
}

/** Ids of the shards whose files are finished. */
export function finishedShards(out: string, plan: EmbedPlan): Set<string> {
  const done = new Set<string>();
  for (const s of plan.shards) {
    const file = shardFile(out, s.id);
    if (!existsSync(file)) continue;
    const meta = readSafetensors(file).metadata ?? {};
    if (meta.shard === s.id && meta.fingerprint === plan.fingerprint) done.add(s.id);
  }
  return done;
}

function removeStaleTemps(out: string, id: string): void {
  const dir = join(out, SHARD_DIR);
  const prefix = `.${id}.safetensors.`;
  for (const name of readdirSync(dir))
    if (name.startsWith(prefix) && name.endsWith(".tmp")) rmSync(join(dir, name), { force: true });
}
