/**
 * `juxta embed`: image or text embeddings of a CLIP model, or the backbone features of an image-only
 * encoder, to a .safetensors or .npy file.
 */
import { embedToFile } from "../../apps/embed.js";
import { SkipLog } from "../../data/types.js";
import { DEFAULT_QUEUE, DEFAULT_SHARD_SIZE, enqueueEmbedding } from "../../distributed/queue.js";
import { UserError } from "../../util/errors.js";
import { defineCommand, type OptionSpecs, type ParsedValues } from "../command.js";
import { DATASET_OPTIONS, datasetOptions, MODEL_OPTIONS, modelFlag, reportSkips } from "../options.js";

const EMBED_OPTIONS = {
  ...MODEL_OPTIONS,
  images: {
    type: "string",
    arg: "FILE|DIR",
    help: "a folder (searched recursively), an image, a .txt list of paths, or a data set",
  },
  pixels: {
    type: "string",
    arg: "FILE",
    help: "a .safetensors file with 'pixel_values' [n, 3, S, S], already preprocessed",
  },
  texts: {
    type: "string",
    arg: "FILE",
    help: "a .txt file with one text a line, or a .json list of strings",
  },
  out: {
    type: "string",
    arg: "FILE",
    help: [
      ".safetensors: 'image_embeds' and/or 'text_embeds', ids and texts in the metadata;",
      ".npy: one array, its row ids beside it in NAME.ids.json (photos.npy → photos.ids.json)",
    ],
  },
  ...DATASET_OPTIONS,
  queue: {
    type: "string",
    arg: "URL",
    group: "distributed (a BullMQ queue on Redis; juxta worker embeds, juxta jobs status|merge follow it):",
    help: [
      "split --images into shards, queue one job per unfinished shard and return;",
      "--out is then a folder (plan.json, shards/) every worker sees at that path",
    ],
  },
  "shard-size": { type: "integer", arg: "N", min: 1, default: DEFAULT_SHARD_SIZE, help: "images per shard" },
  "queue-name": { type: "string", arg: "NAME", default: DEFAULT_QUEUE, help: "queue name" },
} as const satisfies OptionSpecs;

export const embed = defineCommand({
  name: "embed",
  summary: "write image or text embeddings (projected, unnormalized float32) to .safetensors or .npy",
  usage:
    "juxta embed --model RUN (--images FILE|DIR | --pixels FILE.safetensors) [--texts FILE] --out FILE.safetensors|FILE.npy",
  options: EMBED_OPTIONS,
  notes: [
    "An image-only encoder (juxta train --method simclr|moco|supcon|triplet) writes its backbone features",
    "(what kNN and linear probes use, before the projection head) as 'image_embeds'; it has no text tower.",
    "examples:",
    "  juxta embed --model runs/emoji --images photos/ --out photos.safetensors",
    "  juxta embed --model runs/emoji --images /data/photos --out /data/emb --queue redis://10.0.0.5:6379",
  ],
  async run(v) {
    if (v.queue !== undefined) return enqueue(v);
    if (v.out === undefined) throw new UserError("--out FILE.safetensors|FILE.npy is required");
    if (!/\.(safetensors|npy)$/i.test(v.out))
      throw new UserError(`--out must end in .safetensors or .npy, got '${v.out}'`);
    const log = new SkipLog(v.strict ?? false);
    const inputs = { images: v.images, pixels: v.pixels, texts: v.texts, dataset: datasetOptions(v), log };
    if (v.images !== undefined && v.pixels !== undefined)
      throw new UserError("give images either as --images or as --pixels, not both");
    if (v.images === undefined && v.pixels === undefined && v.texts === undefined)
      throw new UserError(
        "nothing to embed: give --images FILE|DIR, --pixels FILE.safetensors or --texts FILE",
      );
    const model = await modelFlag(v);
    let done: { dim: number; images: number; texts: number };
    try {
      if (v.texts !== undefined && !model.hasText)
        throw new UserError(`${v.model} is an image encoder (no text tower); it cannot embed --texts`);
      done = await embedToFile(model, inputs, v.out, { model: v.model as string });
    } finally {
      await model.dispose();
    }
    reportSkips(log);
    const parts = [];
    if (v.images !== undefined || v.pixels !== undefined) parts.push(`${done.images} image`);
    if (v.texts !== undefined) parts.push(`${done.texts} text`);
    console.log(`wrote ${parts.join(" and ")} embeddings (${done.dim}-d) to ${v.out}`);
  },
});

async function enqueue(v: ParsedValues<typeof EMBED_OPTIONS>): Promise<void> {
  if (v.model === undefined) throw new UserError("--model RUN is required");
  if (v.images === undefined) throw new UserError("--images FILE|DIR is required with --queue");
  if (v.out === undefined)
    throw new UserError("--out DIR is required with --queue (plan.json and shards/ go there)");
  const log = new SkipLog(v.strict ?? false);
  const r = await enqueueEmbedding({
    queue: { url: v.queue as string, name: v["queue-name"] },
    model: v.model,
    tokenizer: v.tokenizer,
    images: v.images,
    out: v.out,
    shardSize: v["shard-size"],
    dataset: datasetOptions(v),
    log,
  });
  reportSkips(log);
  console.log(
    `${r.items} images in ${r.shards} shards: ${r.finished} already embedded, ${r.queued} queued. ` +
      `Run juxta worker --queue ${v.queue} (any number), then juxta jobs merge --out ${v.out} --index INDEX.`,
  );
}
