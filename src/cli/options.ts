/**
 * Options several commands share, declared once: the model (`--model`, `--tokenizer`) and how a data set
 * is read (`--image-field`, …, `--strict`, as `juxta train` takes them), with the helpers that turn their
 * values into library arguments.
 */
import type { DatasetOptions } from "../data/options.js";
import type { SkipLog } from "../data/types.js";
import { WEIGHT_FORMATS, type WeightFormat } from "../engine/index.js";
import type { ModelHandle } from "../handle/model.js";
import { openModel } from "../handle/open.js";
import { DEFAULT_TEMPLATES, TEMPLATE_SETS } from "../pipelines/templates.js";
import { UserError } from "../util/errors.js";
import type { OptionSpecs } from "./command.js";

/** `--dtype`: the precision the model's inference sessions compile at (see docs/quantization.md). */
export const DTYPE_OPTION = {
  dtype: {
    type: "choice",
    choices: WEIGHT_FORMATS,
    default: "fp32",
    help: "inference precision: q8 (int8 weights and activations, faster on a CPU) or fp16 (half-size weights)",
  },
} as const satisfies OptionSpecs;

export const MODEL_OPTIONS = {
  model: {
    type: "string",
    arg: "RUN",
    help: "a folder written by juxta train (any method), a Hugging Face CLIPModel or an OpenCLIP folder",
  },
  tokenizer: {
    type: "string",
    arg: "FILE",
    help: "use this tokenizer (tokenizer.json, vocab+merges, bpe_simple_vocab_16e6.txt.gz)",
  },
  ...DTYPE_OPTION,
} as const satisfies OptionSpecs;

export const DATASET_OPTIONS = {
  "image-field": {
    type: "string",
    arg: "PATH",
    help: "field paths for other manifest layouts, e.g. file.path or 'captions[*].text'",
  },
  "text-field": { type: "string", arg: "PATH", help: "where the caption is" },
  "label-field": { type: "string", arg: "PATH", help: "where the class label is" },
  "caption-template": {
    type: "string",
    arg: "T",
    key: "template",
    aliases: ["template"],
    help: "captions made from labels for rows without one, e.g. 'a photo of a {label}.'",
  },
  strict: { type: "boolean", help: "stop at the first bad row instead of skipping it" },
} as const satisfies OptionSpecs;

export function datasetOptions(v: {
  "image-field"?: string;
  "text-field"?: string;
  "label-field"?: string;
  "caption-template"?: string;
}): DatasetOptions {
  return {
    imageField: v["image-field"],
    textField: v["text-field"],
    labelField: v["label-field"],
    template: v["caption-template"],
  };
}

/** Open `--model` (required) with an optional `--tokenizer` and `--dtype`, drawing progress on stderr. */
export async function modelFlag(v: {
  model?: string;
  tokenizer?: string;
  dtype?: WeightFormat;
}): Promise<ModelHandle> {
  if (v.model === undefined)
    throw new UserError("--model RUN is required (a juxta train folder, or a Hugging Face/OpenCLIP folder)");
  return openModel(v.model, { tokenizer: v.tokenizer, dtype: v.dtype, progress: process.stderr });
}

/** Tell the user on stderr what the readers skipped. */
export function reportSkips(log: SkipLog): void {
  const summary = log.summary();
  if (summary) console.error(summary);
}

/** Zero-shot prompts (classify, eval): a named set or a file; resolveTemplates checks the value. */
export const TEMPLATES_OPTION = {
  templates: {
    type: "string",
    arg: "SET",
    defaultHelp: DEFAULT_TEMPLATES,
    help: `prompts: ${TEMPLATE_SETS.join(", ")}, or a file with one '{}' template a line`,
  },
} as const satisfies OptionSpecs;
