/**
 * Moderation policies as data: a JSON file naming concepts to act on, each with its threshold and action,
 * as Stable Diffusion's safety checker holds them in code (17 concepts and 3 "special care" ones, each with
 * its own threshold, a special-care hit tightening all the others by 0.01). Here they are the user's, written
 * down, validated with the line and column of every mistake, hashed for the audit log, and rewritten with
 * measured thresholds by calibration.
 *
 *   {
 *     "name": "children's app",
 *     "templates": "emoji",
 *     "concepts": [
 *       { "name": "weapons", "prompts": ["pistol", "knife", "bomb"], "threshold": 0.24, "action": "block" },
 *       { "name": "drugs", "prompts": ["pill", "syringe"], "examples": ["examples/pills.png"],
 *         "threshold": 0.25, "action": "review" },
 *       { "name": "minors", "prompts": ["child"], "threshold": 0.3, "specialCare": true }
 *     ],
 *     "allow": [{ "name": "toys", "prompts": ["water pistol"], "threshold": 0.3, "clears": ["weapons"] }],
 *     "caption": { "threshold": 0.1, "action": "review" }
 *   }
 *
 * A concept's direction is the normalized mean of its prompt embeddings (each prompt filled into every
 * template: a prompt ensemble), or of its example images' embeddings, or the normalized sum of those two
 * when both are given; its score is the cosine of an image's embedding with that direction. A concept may
 * instead carry a trained `head` (logistic regression on the image embedding; its score is a probability).
 * See docs/moderation.md for every field.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UserError } from "../util/errors.js";
import { writeJsonAtomic } from "../util/fs.js";
import { type LocatedJson, parseLocatedJson } from "./located-json.js";

/** What a concept's hit does, from mildest to strictest; an item's decision is its strictest hit. */
export const ACTIONS = ["flag", "review", "block"] as const;
export type Action = (typeof ACTIONS)[number];
export type Decision = "allow" | Action;

/** The named template sets (as zero-shot classification has them), or a list of templates with '{}'. */
export type TemplateSpec = "photo" | "emoji" | "both" | "none" | readonly string[];

/** Measured at calibration, written into the policy beside the threshold it justifies. */
export interface Calibration {
  /** What the threshold was fitted for. */
  target: { precision: number } | { fpr: number };
  /** Counts on the held-out part, and what they give. */
  heldOut: OperatingPoint;
  /** The same on the part the threshold was fitted on. */
  fitted: OperatingPoint;
  /** Area under the ROC curve on the held-out part. */
  auc: number;
  data?: string;
  model?: string;
  time?: string;
  /** Anything else calibration records (the trained head's scores, the split). */
  [extra: string]: unknown;
}

export interface OperatingPoint {
  threshold: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  precision: number;
  recall: number;
  fpr: number;
}

/** A trained scorer: σ(w·x + b) on the L2-normalized image embedding. */
export interface LinearHead {
  weights: number[];
  bias: number;
}

export interface Concept {
  name: string;
  /** Texts naming the concept ("pistol", "a handgun"); each is filled into every template. */
  prompts?: string[];
  /** Templates for this concept's prompts (default: the policy's). */
  templates?: TemplateSpec;
  /** Example images (paths relative to the policy file); the concept direction includes their mean. */
  examples?: string[];
  /** A trained head used instead of prompts and examples. */
  head?: LinearHead;
  /** The concept fires when its score reaches this (cosine, or probability for a head). */
  threshold: number;
  /** What a hit does; a special-care concept without one only tightens the others. */
  action?: Action;
  /** A hit tightens every other concept's threshold by the policy's `tighten` (the safety checker's rule). */
  specialCare?: boolean;
  calibration?: Calibration;
}

export interface AllowConcept {
  name: string;
  prompts?: string[];
  templates?: TemplateSpec;
  examples?: string[];
  head?: LinearHead;
  threshold: number;
  /** The concepts whose borderline hits this clears (default: all). */
  clears?: string[];
  /** How close to its threshold a hit must be to count as borderline (default: the policy's `borderline`). */
  margin?: number;
}

export interface CaptionCheck {
  /** An image-caption pair whose consistency score falls below this is inconsistent. */
  threshold: number;
  /** What an inconsistent caption does (default review). */
  action?: Action;
  calibration?: Calibration;
}

export interface Policy {
  name: string;
  description?: string;
  /** Templates for every concept's prompts (default "both": the photo and emoji sets). */
  templates?: TemplateSpec;
  /** Threshold cut for the other concepts when a special-care concept fires (default 0.01). */
  tighten?: number;
  /** A hit less than this above its threshold is borderline: an allow-concept may clear it (default 0.02). */
  borderline?: number;
  concepts: Concept[];
  allow?: AllowConcept[];
  caption?: CaptionCheck;
}

/** A policy read from a file, with the folder its example paths resolve against. */
export interface LoadedPolicy {
  policy: Policy;
  /** Folder that relative example paths resolve against. */
  baseDir: string;
  /** sha256 of the policy's canonical JSON (keys sorted): equal for equal policies, whatever the layout. */
  hash: string;
  file?: string;
}

export const DEFAULT_TIGHTEN = 0.01;
export const DEFAULT_BORDERLINE = 0.02;

const TEMPLATE_SETS = ["photo", "emoji", "both", "none"];
const POLICY_FIELDS = [
  "name",
  "description",
  "templates",
  "tighten",
  "borderline",
  "concepts",
  "allow",
  "caption",
];
const CONCEPT_FIELDS = [
  "name",
  "prompts",
  "templates",
  "examples",
  "head",
  "threshold",
  "action",
  "specialCare",
  "calibration",
  "description",
];
const ALLOW_FIELDS = [
  "name",
  "prompts",
  "templates",
  "examples",
  "head",
  "threshold",
  "clears",
  "margin",
  "description",
];
const CAPTION_FIELDS = ["threshold", "action", "calibration"];

/** Read and validate a policy file. */
export function loadPolicy(file: string): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(
      `${file}: cannot read the policy (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return parsePolicy(text, file);
}

/** Validate policy text; every problem is a UserError naming file, line, column and field path. */
export function parsePolicy(text: string, file = "policy"): LoadedPolicy {
  const located = parseLocatedJson(text, file);
  const policy = checkPolicy(located.value, new Checker(file, located));
  return { policy, baseDir: dirname(resolve(file)), hash: policyHash(policy), file };
}

/** Validate a policy given as an object (made in code); errors name the field path. */
export function validatePolicy(value: unknown, baseDir = process.cwd()): LoadedPolicy {
  const policy = checkPolicy(value, new Checker("policy"));
  return { policy, baseDir, hash: policyHash(policy) };
}

/** sha256 of the canonical JSON (sorted keys, no spaces) of a policy. */
export function policyHash(policy: Policy): string {
  return createHash("sha256").update(canonicalJson(policy)).digest("hex");
}

/** Write a policy file (atomically), two-space indented. */
export function savePolicy(file: string, policy: Policy): void {
  writeJsonAtomic(file, policy);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** Builds error messages that say where: `file:line:column (path): message`. */
class Checker {
  constructor(
    readonly file: string,
    readonly located?: LocatedJson,
  ) {}

  fail(path: string, message: string): never {
    const where = this.located ? (({ line, column }) => `:${line}:${column}`)(this.located.at(path)) : "";
    throw new UserError(`${this.file}${where}${path ? ` (${path})` : ""}: ${message}`);
  }

  object(v: unknown, path: string, fields: readonly string[], what: string): Record<string, unknown> {
    if (v === null || typeof v !== "object" || Array.isArray(v))
      this.fail(path, `expected ${what} (a JSON object), got ${describe(v)}`);
    const obj = v as Record<string, unknown>;
    for (const key of Object.keys(obj))
      if (!fields.includes(key)) {
        const near = closest(key, fields);
        this.fail(
          join(path, key),
          `unknown field '${key}'${near ? ` (did you mean '${near}'?)` : ""}; ${what} takes ${fields.join(", ")}`,
        );
      }
    return obj;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== "string" || v.trim() === "")
      this.fail(path, `expected a non-empty string, got ${describe(v)}`);
    return v as string;
  }

  number(v: unknown, path: string, range?: [number, number]): number {
    if (typeof v !== "number" || !Number.isFinite(v))
      this.fail(path, `expected a number, got ${describe(v)}`);
    const n = v as number;
    if (range && (n < range[0] || n > range[1]))
      this.fail(path, `expected a number from ${range[0]} to ${range[1]}, got ${n}`);
    return n;
  }

  strings(v: unknown, path: string): string[] {
    if (!Array.isArray(v) || v.length === 0)
      this.fail(path, `expected a non-empty list of strings, got ${describe(v)}`);
    return (v as unknown[]).map((s, i) => this.string(s, `${path}[${i}]`));
  }
}

function checkPolicy(v: unknown, c: Checker): Policy {
  const o = c.object(v, "", POLICY_FIELDS, "a policy");
  if (o.name === undefined) c.fail("", "a policy needs a 'name'");
  const policy: Policy = { name: c.string(o.name, "name"), concepts: [] };
  if (o.description !== undefined) policy.description = c.string(o.description, "description");
  if (o.templates !== undefined) policy.templates = checkTemplates(o.templates, "templates", c);
  if (o.tighten !== undefined) policy.tighten = c.number(o.tighten, "tighten", [0, 2]);
  if (o.borderline !== undefined) policy.borderline = c.number(o.borderline, "borderline", [0, 2]);
  if (!Array.isArray(o.concepts) || o.concepts.length === 0)
    c.fail(
      o.concepts === undefined ? "" : "concepts",
      `a policy needs a non-empty 'concepts' list, got ${describe(o.concepts)}`,
    );
  const names = new Map<string, string>();
  const unique = (name: string, path: string) => {
    const earlier = names.get(name);
    if (earlier !== undefined) c.fail(`${path}.name`, `the name '${name}' is already used by ${earlier}`);
    names.set(name, path);
  };
  policy.concepts = (o.concepts as unknown[]).map((x, i) => {
    const path = `concepts[${i}]`;
    const concept = checkConcept(x, path, c);
    unique(concept.name, path);
    return concept;
  });
  if (o.allow !== undefined) {
    if (!Array.isArray(o.allow))
      c.fail("allow", `expected a list of allow-concepts, got ${describe(o.allow)}`);
    policy.allow = (o.allow as unknown[]).map((x, i) => {
      const path = `allow[${i}]`;
      const a = checkAllow(x, path, c);
      unique(a.name, path);
      for (const [j, name] of (a.clears ?? []).entries())
        if (!policy.concepts.some((k) => k.name === name))
          c.fail(
            `${path}.clears[${j}]`,
            `no concept named '${name}' (the concepts are ${policy.concepts.map((k) => k.name).join(", ")})`,
          );
      return a;
    });
  }
  if (o.caption !== undefined) {
    const k = c.object(o.caption, "caption", CAPTION_FIELDS, "the caption check");
    if (k.threshold === undefined) c.fail("caption", "the caption check needs a 'threshold'");
    policy.caption = { threshold: c.number(k.threshold, "caption.threshold", [-1, 1]) };
    if (k.action !== undefined) policy.caption.action = checkAction(k.action, "caption.action", c);
    if (k.calibration !== undefined)
      policy.caption.calibration = checkCalibration(k.calibration, "caption.calibration", c);
  }
  return policy;
}

/** Fields shared by concepts and allow-concepts: name, what scores it, threshold. */
function checkScorer(o: Record<string, unknown>, path: string, c: Checker, what: string) {
  if (o.name === undefined) c.fail(path, `${what} needs a 'name'`);
  const name = c.string(o.name, `${path}.name`);
  const out: Pick<Concept, "name" | "prompts" | "templates" | "examples" | "head" | "threshold"> = {
    name,
    threshold: 0,
  };
  if (o.prompts !== undefined) out.prompts = c.strings(o.prompts, `${path}.prompts`);
  if (o.templates !== undefined) out.templates = checkTemplates(o.templates, `${path}.templates`, c);
  if (o.examples !== undefined) out.examples = c.strings(o.examples, `${path}.examples`);
  if (o.head !== undefined) out.head = checkHead(o.head, `${path}.head`, c);
  if (!out.prompts && !out.examples && !out.head)
    c.fail(path, `${what} '${name}' needs 'prompts', 'examples' or a trained 'head' to score images with`);
  if (out.head && (out.prompts || out.examples))
    c.fail(`${path}.head`, `${what} '${name}' has a trained head and prompts or examples: give one scorer`);
  if (out.templates && !out.prompts) c.fail(`${path}.templates`, "templates need 'prompts' to fill in");
  if (o.threshold === undefined) c.fail(path, `${what} '${name}' needs a 'threshold'`);
  // A cosine lies in [-1, 1], a head's probability in [0, 1].
  out.threshold = c.number(o.threshold, `${path}.threshold`, out.head ? [0, 1] : [-1, 1]);
  return out;
}

function checkConcept(v: unknown, path: string, c: Checker): Concept {
  const o = c.object(v, path, CONCEPT_FIELDS, "a concept");
  const concept: Concept = checkScorer(o, path, c, "a concept");
  if (o.specialCare !== undefined) {
    if (typeof o.specialCare !== "boolean")
      c.fail(`${path}.specialCare`, `expected true or false, got ${describe(o.specialCare)}`);
    if (o.specialCare) concept.specialCare = true;
  }
  if (o.action !== undefined) concept.action = checkAction(o.action, `${path}.action`, c);
  else if (!concept.specialCare)
    c.fail(path, `concept '${concept.name}' needs an 'action' (${ACTIONS.join(", ")})`);
  if (o.calibration !== undefined)
    concept.calibration = checkCalibration(o.calibration, `${path}.calibration`, c);
  return concept;
}

function checkAllow(v: unknown, path: string, c: Checker): AllowConcept {
  const o = c.object(v, path, ALLOW_FIELDS, "an allow-concept");
  const a: AllowConcept = checkScorer(o, path, c, "an allow-concept");
  if (o.clears !== undefined) a.clears = c.strings(o.clears, `${path}.clears`);
  if (o.margin !== undefined) a.margin = c.number(o.margin, `${path}.margin`, [0, 2]);
  return a;
}

function checkTemplates(v: unknown, path: string, c: Checker): TemplateSpec {
  if (typeof v === "string") {
    if (!TEMPLATE_SETS.includes(v))
      c.fail(path, `expected ${TEMPLATE_SETS.join(", ")} or a list of templates with '{}', got '${v}'`);
    return v as TemplateSpec;
  }
  const list = c.strings(v, path);
  list.forEach((t, i) => {
    if (!t.includes("{}")) c.fail(`${path}[${i}]`, `a template needs '{}' where the prompt goes, got '${t}'`);
  });
  return list;
}

function checkAction(v: unknown, path: string, c: Checker): Action {
  if (typeof v !== "string" || !(ACTIONS as readonly string[]).includes(v))
    c.fail(path, `expected one of ${ACTIONS.join(", ")}, got ${describe(v)}`);
  return v as Action;
}

function checkHead(v: unknown, path: string, c: Checker): LinearHead {
  const o = c.object(v, path, ["weights", "bias"], "a trained head");
  if (!Array.isArray(o.weights) || o.weights.length === 0)
    c.fail(`${path}.weights`, `expected a non-empty list of numbers, got ${describe(o.weights)}`);
  const weights = (o.weights as unknown[]).map((w, i) => c.number(w, `${path}.weights[${i}]`));
  return { weights, bias: c.number(o.bias ?? 0, `${path}.bias`) };
}

/** Calibration records are written by `juxta moderate calibrate`; only their shape is checked. */
function checkCalibration(v: unknown, path: string, c: Checker): Calibration {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    c.fail(path, `expected a calibration record (a JSON object), got ${describe(v)}`);
  return v as Calibration;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return v.length === 0 ? "an empty list" : "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}…` : s;
}

/** The field name within edit distance 2 of a misspelt one, if any. */
function closest(word: string, fields: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const f of fields) {
    const d = editDistance(word.toLowerCase(), f.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = f;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The tightening and borderline margin in force. */
export function policyMargins(policy: Policy): { tighten: number; borderline: number } {
  return { tighten: policy.tighten ?? DEFAULT_TIGHTEN, borderline: policy.borderline ?? DEFAULT_BORDERLINE };
}
