/**
 * Command-line pieces the application commands share: the data-set reading flags (as `juxta train` takes
 * them), the model flags, and the note about skipped rows.
 */
import type { DatasetOptions } from "../data/options.js";
import type { SkipLog } from "../data/types.js";
import type { ModelHandle } from "../handle/model.js";
import { openModel } from "../handle/open.js";
import { UserError } from "../util/errors.js";

export const DATASET_FLAGS = {
  "image-field": { type: "string" },
  "text-field": { type: "string" },
  "label-field": { type: "string" },
  template: { type: "string" },
  strict: { type: "boolean" },
} as const;

export const DATASET_HELP = [
  "  --image-field PATH   field paths for other manifest layouts, e.g. file.path or 'captions[*].text'",
  "  --text-field PATH, --label-field PATH, --template 'a photo of a {label}.'",
  "  --strict             stop at the first bad row instead of skipping it",
];

export const MODEL_HELP = [
  "  --model RUN          a folder written by juxta train (any method), a Hugging Face CLIPModel or an OpenCLIP folder",
  "  --tokenizer FILE     use this tokenizer (tokenizer.json, vocab+merges, bpe_simple_vocab_16e6.txt.gz)",
];

export function datasetOptions(v: {
  "image-field"?: string;
  "text-field"?: string;
  "label-field"?: string;
  template?: string;
}): DatasetOptions {
  return {
    imageField: v["image-field"],
    textField: v["text-field"],
    labelField: v["label-field"],
    template: v.template,
  };
}

/** Open `--model` (required) with an optional `--tokenizer`, drawing progress on stderr. */
export async function modelFlag(v: { model?: string; tokenizer?: string }): Promise<ModelHandle> {
  if (v.model === undefined)
    throw new UserError("--model RUN is required (a juxta train folder, or a Hugging Face/OpenCLIP folder)");
  return openModel(v.model, { tokenizer: v.tokenizer, progress: process.stderr });
}

/** Tell the user on stderr what the readers skipped. */
export function reportSkips(log: SkipLog): void {
  const summary = log.summary();
  if (summary) console.error(summary);
}
