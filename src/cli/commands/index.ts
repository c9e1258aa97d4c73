/** `juxta index`: build or update a searchable index of image embeddings. */
import { updateImageIndex } from "../../apps/image-index.js";
import { SkipLog } from "../../data/types.js";
import type { HnswStatus } from "../../search/hnsw.js";
import { INDEX_BACKENDS } from "../../search/store.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";
import { DATASET_OPTIONS, datasetOptions, MODEL_OPTIONS, reportSkips } from "../options.js";

export const index = defineCommand({
  name: "index",
  summary: "embed a set of images into a searchable index (juxta search), or update one",
  usage:
    "juxta index --model RUN --images FILE|DIR --index INDEX\n" +
    "       juxta index --index INDEX --add --images FILE|DIR\n" +
    "       juxta index --index INDEX --remove PATH…",
  options: {
    ...MODEL_OPTIONS,
    images: {
      type: "string",
      arg: "FILE|DIR",
      help: "a folder (searched recursively), an image, a .txt list of paths, or a data set",
    },
    index: {
      type: "string",
      arg: "INDEX",
      key: "out",
      aliases: ["out"],
      required: "the index folder",
      help: "the index folder; it records the model folder, so updates and searches reuse it",
    },
    backend: {
      type: "choice",
      choices: INDEX_BACKENDS,
      defaultHelp: "exact",
      help: [
        "storage of a new index: exact (in memory, saved whole) or lance (LanceDB on",
        "disk, for corpora larger than memory; needs @lancedb/lancedb)",
      ],
    },
    add: { type: "boolean", help: "add the images not yet in the index (those already there are kept)" },
    approximate: {
      type: "boolean",
      help: [
        "build (or rebuild) the approximate HNSW index (needs usearch), measure its recall@10",
        "against the exact scan, and save it with the index: for indexes past ~250k images",
      ],
    },
    remove: { type: "boolean", help: "remove the images given as PATH… from the index" },
    json: { type: "boolean", help: "print one JSON line {added, skipped, removed, notFound, size}" },
    ...DATASET_OPTIONS,
  },
  notes: [
    "Any model works: CLIP and SigLIP indexes are searched by text or image, an image-only encoder's",
    "(juxta train --method simclr|moco|supcon|triplet) by image, with its backbone features.",
    "example:",
    "  juxta index --model runs/emoji --images photos/ --index photos.index && juxta search --index photos.index 'a red fruit'",
  ],
  async run(v, positionals) {
    if (positionals.length > 0 && !v.remove)
      throw new UserError(`unexpected arguments ${positionals.join(" ")} (paths to drop go after --remove)`);
    if (v.remove && positionals.length === 0)
      throw new UserError("--remove needs the paths of the images to drop");
    const log = new SkipLog(v.strict ?? false);
    const r = await updateImageIndex({
      out: v.index,
      model: v.model,
      tokenizer: v.tokenizer,
      dtype: v.dtype,
      images: v.images,
      add: v.add,
      approximate: v.approximate,
      backend: v.backend,
      remove: v.remove ? positionals : undefined,
      dataset: datasetOptions(v),
      log,
      progress: process.stderr,
    });
    reportSkips(log);
    if (r.notFound.length > 0) console.error(`not in the index, so not removed: ${r.notFound.join(", ")}`);
    if (v.json) console.log(JSON.stringify(r));
    else {
      console.log(
        `${v.index}: ${r.size} images (added ${r.added}` +
          `${r.skipped ? `, ${r.skipped} already there` : ""}${r.removed ? `, removed ${r.removed}` : ""})`,
      );
      if (r.approximate) console.log(approximateLine(r.approximate));
    }
  },
});

/** "approximate index (HNSW): 100000 vectors, recall@10 0.981 against the exact scan (200 of its own vectors as queries), built in 21.4 s" */
export function approximateLine(a: HnswStatus): string {
  if (a.state === "unavailable") return `approximate index: not used (${a.reason})`;
  const s = a.stats;
  if (!s) return `approximate index: ${a.state}`;
  const pending =
    a.pending > 0 ? `; ${a.pending} added since are searched exactly (rebuild with --approximate)` : "";
  return (
    `approximate index (HNSW, ${s.params.quantization}, M ${s.params.connectivity}, ef ${s.params.expansionSearch}): ` +
    `${s.items} vectors, recall@10 ${s.recallAt10.toFixed(3)} against the exact scan ` +
    `(${s.recallQueries} of its own vectors as queries), built in ${s.buildSeconds.toFixed(1)} s${pending}`
  );
}
