/** The last step of a distributed embedding: every shard's embeddings, in plan order, into one image index. */
import { join, resolve } from "node:path";
import { INDEX_MODEL_FILE, indexModelJson } from "../apps/image-index.js";
import { weightsFingerprint } from "../handle/fingerprint.js";
import { commitGeneration, lockIndex, writeNewFile } from "../search/generations.js";
import { VectorIndex } from "../search/index.js";
import { UserError } from "../util/errors.js";
import { readPlan, readShard } from "./plan.js";

export interface MergeResult {
  items: number;
  skipped: string[];
}

export function mergeShards(outDir: string, indexDir: string): MergeResult {
  const plan = readPlan(resolve(outDir));
  const shards = plan.shards.map((s) => ({ s, e: readShard(outDir, plan, s) }));
  const missing = shards.filter((x) => !x.e).length;
  if (missing > 0)
    throw new UserError(
      `${outDir}: ${missing} of ${plan.shards.length} shards are not embedded yet (juxta jobs status shows progress)`,
    );
  let index: VectorIndex | undefined;
  const skipped: string[] = [];
  for (const { e } of shards) {
    if (!e) continue;
    index ??= VectorIndex.create(e.dim);
    index.add(e.ids, e.embeds);
    skipped.push(...e.skipped);
  }
  if (!index) throw new UserError(`${outDir}: the plan has no shards`);
  const weights = weightsFingerprint(plan.model);
  if (weights.sha256 !== plan.fingerprint)
    throw new UserError(
      `${plan.model}: its weights changed since the shards were embedded; the index would mix two models`,
    );
  const model = indexModelJson({
    model: plan.model,
    ...(plan.tokenizer ? { tokenizer: plan.tokenizer } : {}),
    dim: index.dim,
    weights,
  });
  const built = index;
  const lock = lockIndex(indexDir, "juxta jobs merge");
  try {
    commitGeneration(indexDir, (folder) => {
      built.save(folder, { fresh: true });
      writeNewFile(join(folder, INDEX_MODEL_FILE), `${JSON.stringify(model, null, 2)}\n`);
    });
  } finally {
    lock.release();
  }
  return { items: index.size, skipped };
}
