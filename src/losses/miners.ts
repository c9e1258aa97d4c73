/**
 * Triplet miners as boolean masks computed in the graph. Labels are runtime data, so which triplets are
 * mined cannot be decided while tracing; instead each miner turns the (detached) distance matrix and the
 * labels into a mask, and one compiled step works for any batch. Semantics follow pytorch-metric-learning
 * (TripletMarginMiner and BatchHardMiner), with d a distance (smaller = closer):
 *
 *   candidates (a, p, n): label(p) = label(a), p ≠ a, label(n) ≠ label(a);   gap = d(a,n) − d(a,p)
 *   "all":       gap ≤ m          (every triplet that violates the margin m)
 *   "hard":      gap ≤ m and gap ≤ 0   (the negative is at least as close as the positive)
 *   "semihard":  gap ≤ m and gap > 0   (the negative is farther than the positive, but within the margin)
 *   "batch_hard": one triplet per anchor: its farthest positive and its closest negative (the first
 *                 index on ties), for anchors that have at least one positive and one negative.
 *
 * No reduction here; triplet.ts reduces. Example:
 *   const mask = mineTriplets(distance(x, x), labels, "semihard", 0.2);   // bool [N, N, N] over (a, p, n)
 */
import { arange, type Tensor, where } from "../engine/index.js";
import { labelMasks, staticDim } from "./masks.js";

export type TripletMiner = "all" | "hard" | "semihard" | "batch_hard";

/** Mined triplets as a boolean mask [N, N, N] indexed (anchor, positive, negative). */
export function mineTriplets(
  dist: Tensor,
  labels: Tensor,
  kind: "all" | "hard" | "semihard",
  margin: number,
): Tensor {
  const d = dist.detach();
  const { positive, negative } = labelMasks(labels);
  const gap = d.unsqueeze(1).sub(d.unsqueeze(2));
  let mask = positive.unsqueeze(2).and(negative.unsqueeze(1)).and(gap.le(margin));
  if (kind === "hard") mask = mask.and(gap.le(0));
  if (kind === "semihard") mask = mask.and(gap.gt(0));
  return mask;
}

/**
 * Batch-hard mining: one-hot [N, N] rows picking each anchor's hardest positive and hardest negative,
 * and `valid` [N] (bool) for anchors that have both.
 */
export function mineBatchHard(
  dist: Tensor,
  labels: Tensor,
): { positive: Tensor; negative: Tensor; valid: Tensor } {
  const n = staticDim(labels, 0, "mineBatchHard");
  const d = dist.detach();
  const masks = labelMasks(labels);
  const lowest = Number.NEGATIVE_INFINITY;
  const oneHot = (idx: Tensor) => idx.unsqueeze(1).eq(arange(n).unsqueeze(0)).cast(d.dtype);
  const any = (m: Tensor) => m.cast(d.dtype).sum(1).gt(0);
  return {
    positive: oneHot(where(masks.positive, d, lowest).argmax(1)),
    negative: oneHot(where(masks.negative, d.neg(), lowest).argmax(1)),
    valid: any(masks.positive).and(any(masks.negative)),
  };
}
