/** The last step of a distributed embedding: every shard's embeddings, in plan order, into one image index. */
import { resolve } from "node:path";
import { writeIndexModel } from "../apps/image-index.js";
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
  index.save(indexDir);
  writeIndexModel(indexDir, {
    model: plan.model,
    ...(plan.tokenizer ? { tokenizer: plan.tokenizer } : {}),
    dim: index.dim,
  });
  return { items: index.size, skipped };
}
