/**
 * Reading a training log as a data scientist would: a smoothed loss (debiased EMA, as TensorBoard draws
 * it) and the signs of a collapsed run, a loss stuck at its chance level while the gradients die out.
 */
import { formatNumber } from "../util/progress.js";
import type { ReportData } from "./types.js";

/** Up to this many logged steps the curves are drawn raw: smoothing would only blur them. */
const SMOOTH_FROM = 50;
/** The smoothing window is about this share of the run (40 steps at 2,000). */
const WINDOW_SHARE = 1 / 50;

/** Steps the EMA averages over for a log of `n` steps (1: no smoothing). */
export function smoothingWindow(n: number): number {
  return n < SMOOTH_FROM ? 1 : Math.max(2, Math.round(n * WINDOW_SHARE));
}

/**
 * Exponential moving average with weight 1 − 1/window, debiased (divided by 1 − wᵗ) so the first values
 * are not pulled towards zero. Non-finite values are skipped (left as gaps) without breaking the average.
 */
export function ema(y: readonly number[], window: number): number[] {
  const w = window <= 1 ? 0 : 1 - 1 / window;
  let acc = 0;
  let norm = 0;
  return y.map((v) => {
    if (!Number.isFinite(v)) return Number.NaN;
    acc = w * acc + (1 - w) * v;
    norm = w * norm + (1 - w);
    return acc / norm;
  });
}

/** The end of a log: its last tenth, at least 5 values (all of a shorter log). */
function tail(xs: readonly number[]): number[] {
  const finite = xs.filter(Number.isFinite);
  return finite.slice(-Math.max(5, Math.ceil(finite.length / 10)));
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** A loss within this share of its chance level is "at chance". */
const AT_CHANCE = 0.02;
/** A gradient norm that ends below this share of its peak has died out. */
const DIED_OUT = 0.1;

/**
 * A warning when the loss ends at its chance level (the model cannot tell the candidates apart), with the
 * evidence for a collapse (gradient norm and logit scale falling); undefined when the run looks healthy.
 */
export function collapseWarning(
  metrics: ReportData["metrics"],
  chance: ReportData["chance"],
): string | undefined {
  const level = chance?.loss;
  if (!level || metrics.length === 0) return undefined;
  const end = tail(metrics.map((m) => m.loss));
  if (end.length === 0) return undefined;
  const loss = mean(end);
  if (Math.abs(loss - level.y) > AT_CHANCE * Math.abs(level.y)) return undefined;
  const signs: string[] = [];
  const grads = metrics.map((m) => m.gradNorm ?? Number.NaN).filter(Number.isFinite);
  if (grads.length >= 2) {
    const peak = Math.max(...grads);
    const last = grads.at(-1) as number;
    if (last < DIED_OUT * peak)
      signs.push(`the gradient norm fell from ${formatNumber(peak)} to ${formatNumber(last)}`);
  }
  const scales = metrics.map((m) => m.logitScale ?? Number.NaN).filter(Number.isFinite);
  if (scales.length >= 2 && (scales.at(-1) as number) < 0.9 * Math.max(...scales))
    signs.push(
      `the logit scale fell from ${formatNumber(Math.max(...scales))} to ${formatNumber(scales.at(-1) as number)}`,
    );
  const head = `The loss ends at ${loss.toFixed(4)}, at its chance level (${level.label.replace(/^chance:\s*/, "")} = ${level.y.toFixed(4)}): the model does not tell the positives from the other candidates.`;
  return signs.length
    ? `${head} Meanwhile ${signs.join(", and ")}: together, this is how a collapsed model looks (every embedding alike); check the learning rate, the augmentations and the data.`
    : `${head} It has not learned yet, or has collapsed; a longer run or a different learning rate may tell.`;
}
