/**
 * Calibration: fit each concept's threshold on labeled examples of the user's own data, and measure it on
 * examples held out from the fit, so the precision, recall and false-positive rate written into the policy
 * are ones the threshold was not chosen on.
 *
 * Labeled data is JSONL, one example a line: `{"image": "a.png", "labels": ["weapons"], "text": "…",
 * "split": "fit" | "heldout"}`. `labels` names the policy concepts the image shows (empty: none of them);
 * `split` is optional: without it a stable hash of the image path holds out a fraction. The caption check
 * is calibrated on the examples with a `text`: true pairs against their captions shuffled among images.
 *
 * For each concept the threshold with the most recall that meets the target precision (or false-positive
 * rate) on the fit part is kept (see curves.ts), and a linear head (logistic regression on the frozen
 * image embeddings: LAION's approach) is trained on the same part and scored on the same held-out part,
 * so the two ways of scoring can be compared on equal terms.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fnv1a } from "../data/emoji.js";
import type { ModelHandle } from "../handle/model.js";
import { dot, normalizeRow } from "../search/kernels.js";
import { inputError, jsonErrorMessage, UserError } from "../util/errors.js";
import { fitThreshold, operatingPoint, rocAuc, sweep, type Target } from "./curves.js";
import { Moderator } from "./moderate.js";
import type { Calibration, LinearHead, LoadedPolicy, OperatingPoint, Policy } from "./policy.js";

export interface LabeledExample {
  image: string;
  labels: string[];
  text?: string;
  split?: "fit" | "heldout";
  line: number;
}

export interface CalibrateOptions {
  target: Target;
  /** Fraction held out where examples carry no `split` (default 0.3). */
  holdout?: number;
  /** Score concepts by a trained head instead of their prompts and examples in the written policy. */
  useHead?: boolean;
  /** Recorded in the calibration records. */
  data?: string;
}

/** The curves the report draws for one concept (or the caption check), on the held-out part. */
export interface ConceptCurves {
  name: string;
  roc: { fpr: number[]; tpr: number[] };
  pr: { recall: number[]; precision: number[] };
  chosen: OperatingPoint;
  calibration: Calibration;
  head?: { roc: { fpr: number[]; tpr: number[] }; chosen: OperatingPoint; auc: number };
}

export interface CalibrationResult {
  policy: Policy;
  curves: ConceptCurves[];
  split: { fit: number; heldOut: number };
  /** Concepts whose target the fit part could not meet. */
  unmet: string[];
  /** Of those, the concepts whose action was "block" and is now "review" (see {@link calibrate}). */
  downgraded: string[];
}

/** Read labeled examples; a bad line is an error naming file, line and field. */
export function readLabeled(file: string, concepts: readonly string[]): LabeledExample[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`${file}: cannot read the labeled examples (${(e as NodeJS.ErrnoException).code})`);
  }
  const base = dirname(resolve(file));
  const out: LabeledExample[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === "") return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(raw) as Record<string, unknown>;
    } catch (e) {
      throw inputError({ file, line }, `invalid JSON: ${jsonErrorMessage(e)}`);
    }
    if (row === null || typeof row !== "object" || Array.isArray(row))
      throw inputError({ file, line }, "expected a JSON object");
    if (typeof row.image !== "string" || row.image === "")
      throw inputError({ file, line, field: "image" }, "expected the image's path");
    const labels = row.labels ?? [];
    if (!Array.isArray(labels) || labels.some((l) => typeof l !== "string"))
      throw inputError({ file, line, field: "labels" }, "expected a list of concept names");
    for (const l of labels as string[])
      if (!concepts.includes(l))
        throw inputError(
          { file, line, field: "labels" },
          `'${l}' is not a concept of the policy (${concepts.join(", ")})`,
        );
    if (row.text !== undefined && typeof row.text !== "string")
      throw inputError({ file, line, field: "text" }, "expected the caption as a string");
    if (row.split !== undefined && row.split !== "fit" && row.split !== "heldout")
      throw inputError(
        { file, line, field: "split" },
        `expected "fit" or "heldout", got ${JSON.stringify(row.split)}`,
      );
    const image = isAbsolute(row.image) ? row.image : resolve(base, row.image);
    out.push({
      image,
      labels: labels as string[],
      text: row.text as string | undefined,
      split: row.split as LabeledExample["split"],
      line,
    });
  });
  if (out.length === 0) throw new UserError(`${file}: no labeled examples`);
  return out;
}

/**
 * Fit and measure every concept's threshold (and the caption check's, where captions are given). Where the
 * fit part cannot meet the target, the closest point is kept, and a concept whose action was "block" is
 * set to "review" (recorded as `calibration.actionBefore`): an uncalibrated threshold flags for a person
 * rather than blocking on its own. Set the action back by hand to accept the measured risk.
 */
export async function calibratePolicy(
  model: ModelHandle,
  loaded: LoadedPolicy,
  examples: readonly LabeledExample[],
  opts: CalibrateOptions,
): Promise<CalibrationResult> {
  const holdout = opts.holdout ?? 0.3;
  if (!(holdout > 0 && holdout < 1))
    throw new UserError(`calibrate: holdout must lie between 0 and 1, got ${holdout}`);
  const heldOut = examples.map((e) =>
    e.split ? e.split === "heldout" : (fnv1a(e.image) % 10000) / 10000 < holdout,
  );
  const nHeld = heldOut.filter(Boolean).length;
  if (nHeld === 0 || nHeld === examples.length)
    throw new UserError(
      `calibrate: needs examples both to fit on and to hold out (${nHeld} of ${examples.length} held out)`,
    );
  // Scores under the policy as it is: thresholds do not change scores.
  const moderator = await Moderator.create(model, loaded);
  const dim = model.dim;
  const emb = await model.embedImages(
    examples.map((e) => e.image),
    "calibrate",
  );
  for (let r = 0; r < examples.length; r++)
    if (!normalizeRow(emb, r, dim)) throw new UserError(`${examples[r]?.image}: zero embedding`);
  const { names, scores } = moderator.conceptScores(emb);
  const k = names.length;
  const policy: Policy = structuredClone(loaded.policy);
  const curves: ConceptCurves[] = [];
  const unmet: string[] = [];
  const downgraded: string[] = [];
  const fitIdx = examples.flatMap((_, i) => (heldOut[i] ? [] : [i]));
  const heldIdx = examples.flatMap((_, i) => (heldOut[i] ? [i] : []));
  const meta = { data: opts.data, model: model.dir ?? model.name, time: new Date().toISOString() };
  names.forEach((name, c) => {
    const s = (idx: number[]) => idx.map((i) => scores[i * k + c] as number);
    const y = (idx: number[]) => idx.map((i) => (examples[i] as LabeledExample).labels.includes(name));
    const fit = fitThreshold(s(fitIdx), y(fitIdx), opts.target);
    const threshold = fit.point.threshold;
    const held = operatingPoint(s(heldIdx), y(heldIdx), threshold);
    const auc = rocAuc(s(heldIdx), y(heldIdx));
    // The head: trained and thresholded on the fit part, measured on the held-out part.
    const head = trainHead(rows(emb, fitIdx, dim), y(fitIdx), dim);
    const hs = (idx: number[]) => idx.map((i) => headScore(head, emb, i, dim));
    const headFit = fitThreshold(hs(fitIdx), y(fitIdx), opts.target);
    const headHeld = operatingPoint(hs(heldIdx), y(heldIdx), headFit.point.threshold);
    const headAuc = rocAuc(hs(heldIdx), y(heldIdx));
    const calibration: Calibration = {
      target: opts.target,
      met: fit.met,
      heldOut: held,
      fitted: operatingPoint(s(fitIdx), y(fitIdx), threshold),
      auc,
      split: { fit: fitIdx.length, heldOut: heldIdx.length },
      head: { heldOut: headHeld, auc: headAuc, threshold: headFit.point.threshold },
      ...meta,
    };
    const concept = policy.concepts[c]!;
    if (opts.useHead) {
      delete concept.prompts;
      delete concept.templates;
      delete concept.examples;
      concept.head = head;
      concept.threshold = headFit.point.threshold;
      calibration.heldOut = headHeld;
      calibration.auc = headAuc;
      calibration.met = headFit.met;
    } else concept.threshold = threshold;
    if (!calibration.met) {
      unmet.push(name);
      // A threshold that misses its target must not block on its own: a person reviews what it flags.
      if (concept.action === "block") {
        concept.action = "review";
        calibration.actionBefore = "block";
        downgraded.push(name);
      }
    }
    concept.calibration = calibration;
    curves.push({
      name,
      ...curvesOf(s(heldIdx), y(heldIdx)),
      chosen: held,
      calibration,
      head: { roc: curvesOf(hs(heldIdx), y(heldIdx)).roc, chosen: headHeld, auc: headAuc },
    });
  });
  if (policy.caption) {
    const c = await calibrateCaptions(model, examples, emb, fitIdx, heldIdx, opts.target);
    if (c) {
      policy.caption.threshold = c.threshold;
      policy.caption.calibration = { ...c.calibration, ...meta };
      curves.push({
        name: "caption check",
        ...c.curves,
        chosen: c.calibration.heldOut,
        calibration: policy.caption.calibration,
      });
    }
  }
  return { policy, curves, split: { fit: fitIdx.length, heldOut: heldIdx.length }, unmet, downgraded };
}

/**
 * The caption check: a mismatch is an image with another example's caption (shuffled: the caption of the
 * example one place on, skipping equal captions; adversarial: the caption of the image most like it). A
 * mismatch "fires" when consistency falls below the threshold, so the fit runs on −cosine.
 */
async function calibrateCaptions(
  model: ModelHandle,
  examples: readonly LabeledExample[],
  emb: Float32Array,
  fitIdx: number[],
  heldIdx: number[],
  target: Target,
) {
  const dim = model.dim;
  const captioned = (idx: number[]) => idx.filter((i) => examples[i]?.text !== undefined);
  const fitC = captioned(fitIdx);
  const heldC = captioned(heldIdx);
  if (fitC.length < 2 || heldC.length < 2) return undefined;
  const all = [...fitC, ...heldC];
  const texts = all.map((i) => examples[i]?.text as string);
  const t = await model.embedTexts(texts, "embed captions");
  const row = new Map(all.map((i, r) => [i, r]));
  for (let r = 0; r < all.length; r++) normalizeRow(t, r, dim);
  const cos = (img: number, cap: number) => dot(emb, img * dim, t, (row.get(cap) as number) * dim, dim);
  const pairs = (idx: number[], swap: (i: number) => number | undefined) => {
    const s: number[] = [];
    const y: boolean[] = [];
    for (const i of idx) {
      s.push(-cos(i, i));
      y.push(false);
      const j = swap(i);
      if (j !== undefined) {
        s.push(-cos(i, j));
        y.push(true);
      }
    }
    return { s, y };
  };
  const text = (i: number) => examples[i]?.text as string;
  const shuffled = (idx: number[]) => (i: number) => {
    const at = idx.indexOf(i);
    for (let d = 1; d < idx.length; d++) {
      const j = idx[(at + d) % idx.length] as number;
      if (text(j) !== text(i)) return j;
    }
    return undefined;
  };
  const adversarial = (idx: number[]) => (i: number) => {
    let best: number | undefined;
    let bestS = Number.NEGATIVE_INFINITY;
    for (const j of idx)
      if (j !== i && text(j) !== text(i)) {
        const s = dot(emb, i * dim, emb, j * dim, dim);
        if (s > bestS) {
          bestS = s;
          best = j;
        }
      }
    return best;
  };
  const fit = pairs(fitC, shuffled(fitC));
  const f = fitThreshold(fit.s, fit.y, "precision" in target ? { fpr: 0.05 } : target);
  const held = pairs(heldC, shuffled(heldC));
  const adv = pairs(heldC, adversarial(heldC));
  const point = operatingPoint(held.s, held.y, f.point.threshold);
  const flip = (p: OperatingPoint): OperatingPoint => ({ ...p, threshold: -p.threshold });
  return {
    threshold: -f.point.threshold,
    calibration: {
      target: "precision" in target ? { fpr: 0.05 } : target,
      met: f.met,
      heldOut: flip(point),
      fitted: flip(operatingPoint(fit.s, fit.y, f.point.threshold)),
      auc: rocAuc(held.s, held.y),
      aucAdversarial: rocAuc(adv.s, adv.y),
      adversarialHeldOut: flip(operatingPoint(adv.s, adv.y, f.point.threshold)),
      split: { fit: fitC.length, heldOut: heldC.length },
    } satisfies Calibration,
    curves: curvesOf(held.s, held.y),
  };
}

function curvesOf(scores: number[], labels: boolean[]) {
  const pts = sweep(scores, labels);
  const pos = labels.filter(Boolean).length;
  const neg = labels.length - pos;
  return {
    roc: {
      fpr: [0, ...pts.map((p) => p.fp / Math.max(1, neg))],
      tpr: [0, ...pts.map((p) => p.tp / Math.max(1, pos))],
    },
    pr: { recall: pts.map((p) => p.recall), precision: pts.map((p) => p.precision) },
  };
}

function rows(emb: Float32Array, idx: number[], dim: number): Float32Array {
  const out = new Float32Array(idx.length * dim);
  for (const [r, i] of idx.entries()) out.set(emb.subarray(i * dim, (i + 1) * dim), r * dim);
  return out;
}

function headScore(h: LinearHead, emb: Float32Array, i: number, dim: number): number {
  let z = h.bias;
  for (let d = 0; d < dim; d++) z += (h.weights[d] as number) * (emb[i * dim + d] as number);
  return 1 / (1 + Math.exp(-z));
}

/**
 * Binary logistic regression on unit image embeddings: full-batch gradient descent on the mean
 * cross-entropy with positives and negatives weighted equally (a rare concept is not drowned) and a small
 * L2 penalty; deterministic (zero start, fixed steps).
 */
export function trainHead(
  x: Float32Array,
  y: readonly boolean[],
  dim: number,
  steps = 500,
  lr = 2,
  l2 = 1e-3,
): LinearHead {
  const n = y.length;
  const pos = y.filter(Boolean).length;
  const wPos = pos > 0 ? n / (2 * pos) : 0;
  const wNeg = n - pos > 0 ? n / (2 * (n - pos)) : 0;
  const w = new Float64Array(dim);
  let b = 0;
  const g = new Float64Array(dim);
  for (let step = 0; step < steps; step++) {
    g.fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      let z = b;
      for (let d = 0; d < dim; d++) z += (w[d] as number) * (x[i * dim + d] as number);
      const p = 1 / (1 + Math.exp(-z));
      const err = (p - (y[i] ? 1 : 0)) * (y[i] ? wPos : wNeg);
      for (let d = 0; d < dim; d++) g[d]! += err * (x[i * dim + d] as number);
      gb += err;
    }
    for (let d = 0; d < dim; d++) w[d]! -= lr * ((g[d] as number) / n + l2 * (w[d] as number));
    b -= (lr * gb) / n;
  }
  return { weights: Array.from(w, (v) => Number(v.toPrecision(7))), bias: Number(b.toPrecision(7)) };
}
