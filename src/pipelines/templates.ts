/**
 * Prompt-template choice for zero-shot evaluation and classification: `photo`, `emoji`, `both` (the two sets)
 * or a file of templates. The default is `both`: a model of unknown domain is scored fairly on photographs
 * and on flat icons alike, and a mean over more prompts depends less on any one wording.
 */
import { existsSync } from "node:fs";
import { EMOJI_TEMPLATES, loadTemplates, PHOTO_TEMPLATES } from "../eval/zeroshot.js";
import { OptionError } from "../util/errors.js";
import { didYouMean } from "../util/suggest.js";

export const TEMPLATE_SETS = ["photo", "emoji", "both"] as const;
export const DEFAULT_TEMPLATES = "both";

/** The templates a `--templates` value names: a set name, or else a file of templates (one a line). */
export function resolveTemplates(spec: string = DEFAULT_TEMPLATES): string[] {
  if (spec === "photo") return [...PHOTO_TEMPLATES];
  if (spec === "emoji") return [...EMOJI_TEMPLATES];
  if (spec === "both") return [...PHOTO_TEMPLATES, ...EMOJI_TEMPLATES];
  if (!existsSync(spec))
    throw new OptionError(
      `{templates}: '${spec}' is neither a template set (${TEMPLATE_SETS.join(", ")}) nor a file of templates${didYouMean(spec, TEMPLATE_SETS)}`,
    );
  return loadTemplates(spec);
}

/** A class name as it reads inside a prompt: underscores (golden_retriever) become spaces. */
export function promptName(label: string): string {
  return label.replaceAll("_", " ");
}
