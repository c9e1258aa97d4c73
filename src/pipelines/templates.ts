/**
 * Zero-shot prompts: template sets (`photo`, `emoji`, `both` or a file of templates; the default is `both`: a
 * model of unknown domain is scored fairly on photographs and on flat icons alike, and a mean over more
 * prompts depends less on any one wording), and class embeddings made from them as in CLIP: the
 * renormalized mean of the text embeddings of a class name filled into each template ("a photo of a {}.").
 */
import { existsSync, readFileSync } from "node:fs";
import { normalizeRow } from "../search/kernels.js";
import { inputError, OptionError, UserError } from "../util/errors.js";
import { didYouMean } from "../util/suggest.js";

/** A few of CLIP's ImageNet prompt templates, for photographs. */
export const PHOTO_TEMPLATES: readonly string[] = [
  "a photo of a {}.",
  "a bad photo of a {}.",
  "a photo of many {}.",
  "a close-up photo of a {}.",
  "a bright photo of a {}.",
  "a cropped photo of the {}.",
  "a photo of the large {}.",
  "a photo of the small {}.",
  "itap of a {}.",
];

/** Templates for emoji and icon sets (flat drawings, not photographs). */
export const EMOJI_TEMPLATES: readonly string[] = [
  "an emoji of {}.",
  "an icon of {}.",
  "a cartoon {}.",
  "a {} emoji.",
  "a flat illustration of {}.",
  "a small icon showing {}.",
];

const SLOT = "{}";

/** Read templates, one a line; blank lines and lines starting with '#' are skipped. */
export function loadTemplates(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`${file}: cannot read prompt templates (${(e as Error).message})`);
  }
  const templates: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (!line.includes(SLOT))
      throw inputError({ file, line: i + 1 }, `expected a prompt template containing '{}', got '${line}'`);
    templates.push(line);
  });
  if (templates.length === 0)
    throw new UserError(`${file}: no prompt templates (one a line, each with '{}')`);
  return templates;
}

/** The prompt for one class name. */
export function fillTemplate(template: string, name: string): string {
  return template.split(SLOT).join(name);
}

/** Embeds texts; returns their embeddings as one flat array, row per text. */
export type EmbedTexts = (texts: string[]) => Promise<Float32Array>;

/**
 * One embedding per class: each prompt embedding is normalized, the class's prompts are averaged and the
 * mean renormalized. Classes are embedded in groups of about `batchSize` prompts per `embedTexts` call.
 */
export async function classEmbeddings(
  classes: readonly string[],
  templates: readonly string[],
  embedTexts: EmbedTexts,
  opts: { batchSize?: number } = {},
): Promise<Float32Array> {
  checkClasses(classes);
  if (templates.length === 0) throw new UserError("zero-shot: no prompt templates");
  for (const t of templates)
    if (!t.includes(SLOT)) throw new UserError(`zero-shot: prompt template '${t}' has no '{}'`);
  const perCall = Math.max(1, Math.floor((opts.batchSize ?? 512) / templates.length));
  let dim = 0;
  let out = new Float32Array(0);
  for (let c0 = 0; c0 < classes.length; c0 += perCall) {
    const group = classes.slice(c0, c0 + perCall);
    const prompts = group.flatMap((name) => templates.map((t) => fillTemplate(t, name)));
    // A copy, since prompt rows are normalized in place.
    const emb = (await embedTexts(prompts)).slice();
    if (emb.length === 0 || emb.length % prompts.length !== 0)
      throw new Error(`embedTexts returned ${emb.length} values for ${prompts.length} prompts`);
    if (dim === 0) {
      dim = emb.length / prompts.length;
      out = new Float32Array(classes.length * dim);
    } else if (emb.length !== prompts.length * dim)
      throw new Error(`embedTexts returned ${emb.length / prompts.length}-d vectors, earlier ${dim}-d`);
    group.forEach((name, g) => {
      const c = c0 + g;
      for (let p = 0; p < templates.length; p++) {
        const row = g * templates.length + p;
        if (!normalizeRow(emb, row, dim))
          throw new Error(`prompt '${prompts[row]}' has a zero or non-finite embedding`);
        for (let i = 0; i < dim; i++) out[c * dim + i]! += emb[row * dim + i] as number;
      }
      if (!normalizeRow(out, c, dim))
        throw new Error(`class '${name}': its prompt embeddings average to zero`);
    });
  }
  return out;
}

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

/** A class set must be non-empty and name each class once. */
export function checkClasses(classes: readonly string[]): void {
  if (classes.length === 0) throw new UserError("zero-shot: the class set is empty");
  const seen = new Set<string>();
  for (const c of classes) {
    if (seen.has(c)) throw new UserError(`zero-shot: class '${c}' is listed twice`);
    seen.add(c);
  }
}
