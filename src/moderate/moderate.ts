/**
 * Moderation of images (and their captions) against a policy, with every decision explained.
 *
 * A `Moderator` is made once per model and policy: it embeds each concept's prompts (every prompt filled
 * into every template and averaged: a prompt ensemble) and example images, and keeps the directions. Then,
 * for each image:
 *  1. every concept's score: the highest cosine of the image embedding with one of its prompt directions or
 *     with its examples' mean direction (or a trained head's probability);
 *  2. special-care concepts are checked first: if one reaches its threshold, every other concept's
 *     threshold is cut by the policy's `tighten` (Stable Diffusion's safety checker, 0.01);
 *  3. a concept fires when its score reaches its (tightened) threshold; its margin is score − threshold;
 *  4. a hit less than `borderline` above its threshold is cleared when an allow-concept that covers it fires
 *     (a water pistol is not a weapon);
 *  5. the caption check: the caption's consistency score with its image below the policy's threshold is a
 *     hit of its own (misleading or spam captions);
 *  6. the decision is the strictest action among the hits that stand (block > review > flag), else allow.
 * The result lists the hits with score, threshold and margin, what was cleared and by what, every score,
 * and a one-line explanation; the same holds for precomputed embeddings (`moderateEmbeddings`), which is
 * what a server that already embeds its uploads calls.
 */
import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { ImageInput } from "../handle/inputs.js";
import type { ModelHandle } from "../handle/model.js";
import { classEmbeddings, EMOJI_TEMPLATES, PHOTO_TEMPLATES } from "../pipelines/templates.js";
import { dot, normalizeRow } from "../search/kernels.js";
import { UserError } from "../util/errors.js";
import {
  ACTIONS,
  type Action,
  type AllowConcept,
  type Concept,
  type Decision,
  type LoadedPolicy,
  type Policy,
  policyMargins,
  type TemplateSpec,
  validatePolicy,
} from "./policy.js";

/** One item to moderate: an image, optionally its caption, and an id for the report (default: its path). */
export interface ModerationItem {
  image: ImageInput;
  caption?: string;
  id?: string;
}

/** A concept that fired, as the explanation shows it. */
export interface ConceptHit {
  concept: string;
  action: Action;
  score: number;
  /** The threshold in force (after any special-care tightening). */
  threshold: number;
  /** score − threshold: how far past it the image is. */
  margin: number;
  /** What scored highest: `prompt 'pistol'`, `examples (3)` or `head`. */
  source: string;
  /** How much the threshold was tightened by a special-care hit (0 when not). */
  tightenedBy: number;
  /** Set on a cleared hit: the allow-concept that cleared it. */
  clearedBy?: string;
}

export interface CaptionResult {
  text: string;
  /** The consistency score of the caption with its image (cosine). */
  score: number;
  threshold: number;
  margin: number;
  consistent: boolean;
  action: Action;
}

export interface ModerationResult {
  id: string;
  decision: Decision;
  /** Concept hits that stand, strictest action first, then by margin. */
  hits: ConceptHit[];
  /** Borderline hits an allow-concept cleared. */
  cleared: ConceptHit[];
  /** Special-care concepts that fired (and so tightened the others). */
  specialCare: string[];
  /** Allow-concepts that fired, with their scores. */
  allowed: { name: string; score: number; threshold: number }[];
  caption?: CaptionResult;
  /** Every concept's and allow-concept's score. */
  scores: Record<string, number>;
  /** One line a person can read: the decision and why. */
  explanation: string;
}

export interface ModeratorOptions {
  /** Examples paths resolve against this folder (default: the policy file's, else the working folder). */
  baseDir?: string;
}

/**
 * What a Moderator needs of a model: its embedding calls and identity. A ModelHandle is one; a service
 * whose model lives in a worker thread (juxta serve) passes an object that forwards the calls there.
 */
export type EmbeddingModel = Pick<
  ModelHandle,
  "dim" | "hasText" | "name" | "dir" | "noTextTower" | "embedTexts" | "embedImages"
>;

/** Severity order of decisions, for the strictest-wins rule and for exit codes. */
export const SEVERITY: Record<Decision, number> = { allow: 0, flag: 1, review: 2, block: 3 };

/** A scorer's directions: one per prompt, plus the examples' mean; or a head. */
interface Scorer {
  name: string;
  threshold: number;
  /** Normalized directions [sources, dim]. */
  directions: Float32Array;
  sources: string[];
  head?: { weights: Float32Array; bias: number };
}

export class Moderator {
  readonly policy: Policy;
  readonly hash: string;
  private constructor(
    readonly model: EmbeddingModel,
    loaded: LoadedPolicy,
    private readonly concepts: Scorer[],
    private readonly allows: Scorer[],
  ) {
    this.policy = loaded.policy;
    this.hash = loaded.hash;
  }

  /** Embed the policy's prompts and examples with `model`; a concept with prompts needs a text tower. */
  static async create(
    model: EmbeddingModel,
    policy: LoadedPolicy | Policy,
    opts: ModeratorOptions = {},
  ): Promise<Moderator> {
    const loaded = "policy" in policy ? policy : validatePolicy(policy);
    const baseDir = opts.baseDir ?? loaded.baseDir;
    const p = loaded.policy;
    const scorer = (c: Concept | AllowConcept) => compileScorer(model, p, c, baseDir);
    const concepts: Scorer[] = [];
    for (const c of p.concepts) concepts.push(await scorer(c));
    const allows: Scorer[] = [];
    for (const a of p.allow ?? []) allows.push(await scorer(a));
    if (p.caption && !model.hasText)
      throw model.noTextTower("the policy's caption check compares captions with images, so it needs one");
    return new Moderator(model, loaded, concepts, allows);
  }

  /** Moderate images (with their captions where given). */
  async moderate(items: readonly ModerationItem[]): Promise<ModerationResult[]> {
    const images = await this.model.embedImages(
      items.map((it) => it.image),
      "moderate",
    );
    const captions = items.map((it) => it.caption);
    const withText = captions.flatMap((c, i) => (c === undefined ? [] : [i]));
    let textEmb: Float32Array | undefined;
    if (this.policy.caption && withText.length > 0)
      textEmb = await this.model.embedTexts(
        withText.map((i) => captions[i] as string),
        "embed captions",
      );
    const dim = this.model.dim;
    const captionRows = new Map(withText.map((i, r) => [i, r]));
    return items.map((it, i) => {
      const r = captionRows.get(i);
      const caption =
        textEmb && r !== undefined
          ? { text: it.caption as string, embedding: textEmb.subarray(r * dim, (r + 1) * dim) }
          : undefined;
      return this.decide(itemId(it, i), images.subarray(i * dim, (i + 1) * dim), caption);
    });
  }

  /**
   * Moderate precomputed image embeddings (row-major [n, dim], any norm) with optional caption embeddings
   * (one row per item, or undefined where an item has no caption).
   */
  moderateEmbeddings(
    ids: readonly string[],
    images: Float32Array,
    captions?: readonly ({ text: string; embedding: Float32Array } | undefined)[],
  ): ModerationResult[] {
    const dim = this.model.dim;
    if (images.length !== ids.length * dim)
      throw new UserError(`moderate: ${ids.length} ids but ${images.length / dim} ${dim}-d image embeddings`);
    return ids.map((id, i) => this.decide(id, images.subarray(i * dim, (i + 1) * dim), captions?.[i]));
  }

  /** Every concept's score for each image row (row-major [n, concepts]), for calibration and curves. */
  conceptScores(images: Float32Array): { names: string[]; scores: Float64Array } {
    const dim = this.model.dim;
    const n = images.length / dim;
    const k = this.concepts.length;
    const out = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      const x = unit(images.subarray(i * dim, (i + 1) * dim), `image ${i + 1}`);
      this.concepts.forEach((s, c) => {
        out[i * k + c] = score(s, x, dim).score;
      });
    }
    return { names: this.concepts.map((s) => s.name), scores: out };
  }

  private decide(
    id: string,
    imageRow: Float32Array,
    caption: { text: string; embedding: Float32Array } | undefined,
  ): ModerationResult {
    const dim = this.model.dim;
    const x = unit(imageRow, `image '${id}'`);
    const { tighten, borderline } = policyMargins(this.policy);
    const scores: Record<string, number> = {};
    const scored = this.concepts.map((s) => {
      const r = score(s, x, dim);
      scores[s.name] = r.score;
      return r;
    });
    const specialCare = this.policy.concepts.flatMap((c, i) =>
      c.specialCare && (scored[i]?.score as number) >= c.threshold ? [c.name] : [],
    );
    const cut = specialCare.length > 0 ? tighten : 0;
    const fired: ConceptHit[] = [];
    this.policy.concepts.forEach((c, i) => {
      const r = scored[i] as { score: number; source: string };
      // Special-care concepts are judged at their own threshold; they tighten the others.
      const by = c.specialCare ? 0 : cut;
      const threshold = c.threshold - by;
      if (c.action && r.score >= threshold)
        fired.push({
          concept: c.name,
          action: c.action,
          score: r.score,
          threshold,
          margin: r.score - threshold,
          source: r.source,
          tightenedBy: by,
        });
    });
    const allowed = this.allows.flatMap((s, i) => {
      const r = score(s, x, dim);
      scores[s.name] = r.score;
      return r.score >= s.threshold
        ? [{ name: s.name, score: r.score, threshold: s.threshold, index: i }]
        : [];
    });
    const hits: ConceptHit[] = [];
    const cleared: ConceptHit[] = [];
    for (const h of fired) {
      const by = allowed.find(({ index }) => {
        const a = this.policy.allow?.[index] as AllowConcept;
        return (!a.clears || a.clears.includes(h.concept)) && h.margin < (a.margin ?? borderline);
      });
      if (by) cleared.push({ ...h, clearedBy: by.name });
      else hits.push(h);
    }
    hits.sort((a, b) => SEVERITY[b.action] - SEVERITY[a.action] || b.margin - a.margin);
    let captionResult: CaptionResult | undefined;
    const check = this.policy.caption;
    if (check && caption) {
      const s = dot(x, 0, unit(caption.embedding, `caption of '${id}'`), 0, dim);
      captionResult = {
        text: caption.text,
        score: s,
        threshold: check.threshold,
        margin: s - check.threshold,
        consistent: s >= check.threshold,
        action: check.action ?? "review",
      };
    }
    let decision: Decision = hits[0]?.action ?? "allow";
    if (captionResult && !captionResult.consistent && SEVERITY[captionResult.action] > SEVERITY[decision])
      decision = captionResult.action;
    const result: ModerationResult = {
      id,
      decision,
      hits,
      cleared,
      specialCare,
      allowed: allowed.map(({ index: _, ...a }) => a),
      scores,
      explanation: "",
    };
    if (captionResult) result.caption = captionResult;
    result.explanation = explain(result, this.policy);
    return result;
  }
}

/** Moderate items once with a model and a policy (a Moderator made and used once). */
export async function moderate(
  model: ModelHandle,
  policy: LoadedPolicy | Policy,
  items: readonly ModerationItem[],
  opts: ModeratorOptions = {},
): Promise<ModerationResult[]> {
  return (await Moderator.create(model, policy, opts)).moderate(items);
}

/** The strictest decision of a set of results. */
export function strictest(results: readonly ModerationResult[]): Decision {
  let d: Decision = "allow";
  for (const r of results) if (SEVERITY[r.decision] > SEVERITY[d]) d = r.decision;
  return d;
}

export function isDecision(s: string): s is Decision {
  return s === "allow" || (ACTIONS as readonly string[]).includes(s);
}

/** The templates a spec names ("none": the prompt as written). */
export function templatesFor(spec: TemplateSpec | undefined): readonly string[] {
  if (spec === undefined || spec === "both") return [...PHOTO_TEMPLATES, ...EMOJI_TEMPLATES];
  if (spec === "photo") return PHOTO_TEMPLATES;
  if (spec === "emoji") return EMOJI_TEMPLATES;
  if (spec === "none") return ["{}"];
  return spec;
}

async function compileScorer(
  model: EmbeddingModel,
  policy: Policy,
  c: Concept | AllowConcept,
  baseDir: string,
): Promise<Scorer> {
  const dim = model.dim;
  if (c.head) {
    if (c.head.weights.length !== dim)
      throw new UserError(
        `concept '${c.name}': its head has ${c.head.weights.length} weights but ${model.name} embeds to ${dim}-d (trained on another model?)`,
      );
    return {
      name: c.name,
      threshold: c.threshold,
      directions: new Float32Array(0),
      sources: ["head"],
      head: { weights: Float32Array.from(c.head.weights), bias: c.head.bias },
    };
  }
  const rows: Float32Array[] = [];
  const sources: string[] = [];
  if (c.prompts) {
    if (!model.hasText)
      throw model.noTextTower(
        `concept '${c.name}' is given by prompts, which need one to embed (give it example images instead)`,
      );
    const templates = templatesFor(c.templates ?? policy.templates);
    const emb = await classEmbeddings(c.prompts, templates, (texts) =>
      model.embedTexts(texts, "embed prompts"),
    );
    c.prompts.forEach((p, i) => {
      rows.push(emb.slice(i * dim, (i + 1) * dim));
      sources.push(`prompt '${p}'`);
    });
  }
  if (c.examples) {
    const paths = c.examples.map((e) => (isAbsolute(e) ? e : resolve(baseDir, e)));
    for (const [i, p] of paths.entries())
      if (!statSync(p, { throwIfNoEntry: false })?.isFile())
        throw new UserError(
          `concept '${c.name}': example image ${i + 1} '${c.examples[i]}' does not exist (${p})`,
        );
    const emb = await model.embedImages(paths, "embed examples");
    const mean = new Float32Array(dim);
    for (let r = 0; r < paths.length; r++) {
      const row = unit(emb.subarray(r * dim, (r + 1) * dim), `example '${c.examples[r]}'`);
      for (let d = 0; d < dim; d++) mean[d]! += row[d] as number;
    }
    if (!normalizeRow(mean, 0, dim)) throw new UserError(`concept '${c.name}': its examples average to zero`);
    rows.push(mean);
    sources.push(`examples (${paths.length})`);
  }
  const directions = new Float32Array(rows.length * dim);
  for (const [i, r] of rows.entries()) directions.set(r, i * dim);
  return { name: c.name, threshold: c.threshold, directions, sources };
}

/** The scorer's score for a unit image vector, and which source gave it. */
function score(s: Scorer, x: Float32Array, dim: number): { score: number; source: string } {
  if (s.head) {
    const z = dot(x, 0, s.head.weights, 0, dim) + s.head.bias;
    return { score: 1 / (1 + Math.exp(-z)), source: "head" };
  }
  let best = Number.NEGATIVE_INFINITY;
  let source = "";
  for (let k = 0; k < s.sources.length; k++) {
    const v = dot(x, 0, s.directions, k * dim, dim);
    if (v > best) {
      best = v;
      source = s.sources[k] as string;
    }
  }
  return { score: best, source };
}

function unit(row: Float32Array, what: string): Float32Array {
  const x = row.slice();
  if (!normalizeRow(x, 0, x.length)) throw new UserError(`${what}: zero or non-finite embedding`);
  return x;
}

function itemId(it: ModerationItem, i: number): string {
  if (it.id !== undefined) return it.id;
  if (typeof it.image === "string") return resolve(it.image);
  if (typeof it.image === "object" && "kind" in it.image && it.image.kind === "file") return it.image.path;
  return `item ${i + 1}`;
}

const f3 = (x: number) => x.toFixed(3);
const signed = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(3)}`;

/** "block: weapons 0.312 ≥ 0.240 (+0.072, prompt 'pistol'); …" or the nearest miss for an allowed item. */
function explain(r: ModerationResult, policy: Policy): string {
  const parts = r.hits.map(
    (h) =>
      `${h.action} ${h.concept}: ${f3(h.score)} ≥ ${f3(h.threshold)} (${signed(h.margin)}, ${h.source}${
        h.tightenedBy ? `, tightened by ${h.tightenedBy} for ${r.specialCare.join(", ")}` : ""
      })`,
  );
  for (const h of r.cleared)
    parts.push(
      `${h.concept} cleared by ${h.clearedBy}: ${f3(h.score)} only ${signed(h.margin)} past ${f3(h.threshold)}`,
    );
  if (r.specialCare.length > 0 && r.hits.every((h) => !h.tightenedBy))
    parts.push(`special care: ${r.specialCare.join(", ")}`);
  const c = r.caption;
  if (c && !c.consistent)
    parts.push(`${c.action} caption: consistency ${f3(c.score)} < ${f3(c.threshold)} (${signed(c.margin)})`);
  if (r.decision === "allow" && parts.length === 0) {
    // The nearest miss says how safe the allow was.
    let near: { name: string; gap: number } | undefined;
    for (const k of policy.concepts)
      if (k.action) {
        const gap = (r.scores[k.name] as number) - k.threshold;
        if (!near || gap > near.gap) near = { name: k.name, gap };
      }
    return near
      ? `allow: no concept reached its threshold (nearest: ${near.name} ${f3(r.scores[near.name] as number)}, ${signed(near.gap)})`
      : "allow";
  }
  return `${r.decision}: ${parts.join("; ")}`;
}
