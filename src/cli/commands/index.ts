/** `juxta index`: build or update a searchable index of image embeddings. */
import { DATASET_FLAGS, DATASET_HELP, datasetOptions, MODEL_HELP, reportSkips } from "../../apps/flags.js";
import { updateImageIndex } from "../../apps/image-index.js";
import { SkipLog } from "../../data/types.js";
import type { IndexBackend } from "../../search/store.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";

export const index = defineCommand({
  name: "index",
  summary: "embed a set of images into a searchable index (juxta search), or update one",
  usage:
    "juxta index --model RUN --images FILE|DIR --out INDEX\n" +
    "       juxta index --out INDEX --add --images FILE|DIR\n" +
    "       juxta index --out INDEX --remove PATH…",
  help: [
    "options:",
    ...MODEL_HELP,
    "  --images FILE|DIR    a folder (searched recursively), an image, a .txt list of paths, or a data set",
    "  --out INDEX          the index folder; it records the model folder, so updates and searches reuse it",
    "  --backend exact|lance  storage of a new index: exact (in memory, saved whole; the default) or lance",
    "                       (LanceDB on disk, for corpora larger than memory; needs @lancedb/lancedb)",
    "Any model works: CLIP and SigLIP indexes are searched by text or image, an image-only encoder's",
    "(juxta train --method simclr|moco|supcon|triplet) by image, with its backbone features.",
    "  --add                add the images not yet in the index (those already there are kept)",
    "  --remove PATH…       remove these images from the index",
    "  --json               print one JSON line {added, skipped, removed, notFound, size}",
    ...DATASET_HELP,
    "example:",
    "  juxta index --model runs/emoji --images photos/ --out photos.index && juxta search --index photos.index 'a red fruit'",
  ].join("\n"),
  options: {
    model: { type: "string" },
    tokenizer: { type: "string" },
    images: { type: "string" },
    out: { type: "string" },
    backend: { type: "string" },
    add: { type: "boolean" },
    remove: { type: "boolean" },
    json: { type: "boolean" },
    ...DATASET_FLAGS,
  },
  async run(v, positionals) {
    if (v.out === undefined) throw new UserError("--out INDEX is required (the index folder)");
    if (positionals.length > 0 && !v.remove)
      throw new UserError(`unexpected arguments ${positionals.join(" ")} (paths to drop go after --remove)`);
    if (v.remove && positionals.length === 0)
      throw new UserError("--remove needs the paths of the images to drop");
    const log = new SkipLog(v.strict ?? false);
    const r = await updateImageIndex({
      out: v.out,
      model: v.model,
      tokenizer: v.tokenizer,
      images: v.images,
      add: v.add,
      backend: v.backend as IndexBackend | undefined,
      remove: v.remove ? positionals : undefined,
      dataset: datasetOptions(v),
      log,
      progress: process.stderr,
    });
    reportSkips(log);
    if (r.notFound.length > 0) console.error(`not in the index, so not removed: ${r.notFound.join(", ")}`);
    if (v.json) console.log(JSON.stringify(r));
    else
      console.log(
        `${v.out}: ${r.size} images (added ${r.added}` +
          `${r.skipped ? `, ${r.skipped} already there` : ""}${r.removed ? `, removed ${r.removed}` : ""})`,
      );
  },
});
