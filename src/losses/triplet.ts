/**
 * Triplet margin loss (Weinberger & Saul 2009; Schroff et al. 2015, "FaceNet"), with
 * pytorch-metric-learning's conventions.
 *
 *   ℓ(a, p, n) = max(0, d(a, p) − d(a, n) + m)
 *   loss = mean of ℓ over the mined triplets with ℓ > 0, and 0 when there are none
 *
 * d is "l2" (default), "squared_l2" or "cosine" (1 − cos) between embeddings that are first L2-normalized
 * unless `normalize: false` (pytorch-metric-learning's default distance normalizes too). Triplets come from
 * a miner (miners.ts; default "all": every triplet with d(a,n) − d(a,p) ≤ m, the same loss as using all
 * triplets) that sees the same, detached distances, with margin `minerMargin` (default m). Reduction: the
 * average over non-zero triplets (AvgNonZeroReducer); `active` is how many there were. Default m = 0.05.
 * The "all", "hard" and "semihard" miners work on [N, N, N] tensors (fine for batches of a few hundred);
 * "batch_hard" stays at [N, N].
 *
 * Example:
 *   const labels = input("labels", [64], "int64");
 *   const { loss, active } = tripletMarginLoss(emb, labels, { margin: 0.2, miner: "semihard" });
 */
import type { Tensor } from "../engine/index.js";
import { l2Normalize } from "../nn/index.js";
import { meanNonZero } from "./masks.js";
import { mineBatchHard, mineTriplets, type TripletMiner } from "./miners.js";
import { type Distance, distance } from "./similarity.js";

export interface TripletOptions {
  margin?: number;
  distance?: Distance;
  normalize?: boolean;
  miner?: TripletMiner;
  minerMargin?: number;
}

export function tripletMarginLoss(
  embeddings: Tensor,
  labels: Tensor,
  opts: TripletOptions = {},
): { loss: Tensor; active: Tensor } {
  const margin = opts.margin ?? 0.05;
  const miner = opts.miner ?? "all";
  const x = opts.normalize === false ? embeddings : l2Normalize(embeddings);
  const d = distance(x, x, opts.distance ?? "l2");
  if (miner === "batch_hard") {
    const mined = mineBatchHard(d, labels);
    const ap = d.mul(mined.positive).sum(1);
    const an = d.mul(mined.negative).sum(1);
    return meanNonZero(ap.sub(an).add(margin).relu(), mined.valid);
  }
  const mask = mineTriplets(d, labels, miner, opts.minerMargin ?? margin);
  const losses = d.unsqueeze(2).sub(d.unsqueeze(1)).add(margin).relu();
  return meanNonZero(losses, mask);
}
