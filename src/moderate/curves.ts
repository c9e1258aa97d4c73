/**
 * Operating points of a score threshold on labeled examples: counts, precision, recall and false-positive
 * rate at a threshold, the ROC and precision-recall curves, the area under the ROC curve, and the threshold
 * that meets a target precision or false-positive rate with the most recall.
 *
 * An example fires when its score is at or above the threshold. A fitted threshold lies halfway between the
 * lowest score it lets fire and the next lower score, so a new example scoring between the two is judged
 * as the nearer one would be, not by which side of an exact data point it fell.
 */
import type { OperatingPoint } from "./policy.js";

export type Target = { precision: number } | { fpr: number };

/** Counts and rates at `threshold`. Precision is 1 when nothing fires (no false alarms). */
export function operatingPoint(
  scores: ArrayLike<number>,
  labels: ArrayLike<boolean>,
  threshold: number,
): OperatingPoint {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const fire = (scores[i] as number) >= threshold;
    if (labels[i]) fire ? tp++ : fn++;
    else fire ? fp++ : tn++;
  }
  return rates(threshold, tp, fp, tn, fn);
}

function rates(threshold: number, tp: number, fp: number, tn: number, fn: number): OperatingPoint {
  return {
    threshold,
    tp,
    fp,
    tn,
    fn,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
    fpr: fp + tn === 0 ? 0 : fp / (fp + tn),
  };
}

/** One point per distinct score, from the highest threshold down (each point fires that score and above). */
export function sweep(scores: ArrayLike<number>, labels: ArrayLike<boolean>): OperatingPoint[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => (scores[b] as number) - (scores[a] as number),
  );
  let pos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) pos++;
  const neg = labels.length - pos;
  const out: OperatingPoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; ) {
    const s = scores[order[k] as number] as number;
    // Tied scores fire together.
    while (k < order.length && scores[order[k] as number] === s) {
      if (labels[order[k] as number]) tp++;
      else fp++;
      k++;
    }
    out.push(rates(s, tp, fp, neg - fp, pos - tp));
  }
  return out;
}

export interface Fit {
  point: OperatingPoint;
  /** Whether the target was met on the fitting examples (else: the point closest to it). */
  met: boolean;
}

/**
 * The threshold with the most recall whose precision (or false-positive rate) meets the target on these
 * examples; when none does, the one that comes closest (highest precision, or lowest rate).
 */
export function fitThreshold(scores: ArrayLike<number>, labels: ArrayLike<boolean>, target: Target): Fit {
  const points = sweep(scores, labels);
  if (points.length === 0) throw new Error("fitThreshold: no examples");
  const meets = (p: OperatingPoint) =>
    "precision" in target ? p.precision >= target.precision : p.fpr <= target.fpr;
  // Points run from the strictest threshold down, recall never falling: the most recall that meets the
  // target, at the strictest threshold giving it (more false alarms for no more recall are not wanted).
  let chosen = -1;
  points.forEach((p, k) => {
    if (meets(p) && (chosen < 0 || p.recall > (points[chosen] as OperatingPoint).recall)) chosen = k;
  });
  const met = chosen >= 0;
  if (!met) {
    chosen = 0;
    points.forEach((p, k) => {
      const best = points[chosen] as OperatingPoint;
      if ("precision" in target ? p.precision > best.precision : p.fpr < best.fpr) chosen = k;
    });
  }
  const at = points[chosen] as OperatingPoint;
  const below = points[chosen + 1];
  const threshold = below ? (at.threshold + below.threshold) / 2 : at.threshold;
  return { point: { ...at, threshold }, met };
}

/** Area under the ROC curve: the chance a random positive outscores a random negative (ties count half). */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  const points = sweep(scores, labels);
  let pos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) pos++;
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  let auc = 0;
  let prevTpr = 0;
  let prevFpr = 0;
  for (const p of points) {
    const tpr = p.tp / pos;
    const fpr = p.fp / neg;
    auc += ((fpr - prevFpr) * (tpr + prevTpr)) / 2;
    prevTpr = tpr;
    prevFpr = fpr;
  }
  return auc;
}
