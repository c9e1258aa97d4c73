/**
 * Pairwise contrastive losses over all pairs i ≠ j of a labelled batch.
 *
 * `contrastiveLoss`: Hadsell, Chopra & LeCun 2006, "Dimensionality Reduction by Learning an Invariant
 * Mapping", with y = 1 for a same-label pair and d the Euclidean distance:
 *   ℓᵢⱼ = ½·y·d² + ½·(1 − y)·max(0, m − d)²
 *   loss = (1/(N(N−1))) Σ_{i≠j} ℓᵢⱼ          (mean over ordered pairs; default m = 1, no normalization)
 *
 * `marginContrastiveLoss`: pytorch-metric-learning's ContrastiveLoss (pos_margin, neg_margin):
 *   positive pairs: max(0, d − m₊)      negative pairs: max(0, m₋ − d)
 *   loss = mean of the non-zero positive-pair losses + mean of the non-zero negative-pair losses
 * each mean being 0 when it has no non-zero term (AvgNonZeroReducer). Defaults m₊ = 0, m₋ = 1, d = "l2"
 * between L2-normalized embeddings (as pytorch-metric-learning's default distance).
 *
 * Example: `const { loss } = contrastiveLoss(emb, input("labels", [32], "int64"), { margin: 2 })`.
 */
import { type Tensor, where } from "../engine/index.js";
import { l2Normalize } from "../nn/index.js";
import { labelMasks, meanNonZero, staticDim } from "./masks.js";
import { type Distance, distance } from "./similarity.js";

export function contrastiveLoss(
  embeddings: Tensor,
  labels: Tensor,
  opts: { margin?: number; normalize?: boolean } = {},
): { loss: Tensor } {
  const n = staticDim(embeddings, 0, "contrastiveLoss");
  const x = opts.normalize ? l2Normalize(embeddings) : embeddings;
  const { positive, negative } = labelMasks(labels);
  const pull = distance(x, x, "squared_l2").mul(0.5);
  const push = distance(x, x, "l2")
    .neg()
    .add(opts.margin ?? 1)
    .relu()
    .square()
    .mul(0.5);
  const perPair = where(positive, pull, where(negative, push, 0));
  return { loss: perPair.sum().mul(1 / Math.max(1, n * (n - 1))) };
}

export function marginContrastiveLoss(
  embeddings: Tensor,
  labels: Tensor,
  opts: { posMargin?: number; negMargin?: number; distance?: Distance; normalize?: boolean } = {},
): { loss: Tensor; positiveLoss: Tensor; negativeLoss: Tensor } {
  const x = opts.normalize === false ? embeddings : l2Normalize(embeddings);
  const d = distance(x, x, opts.distance ?? "l2");
  const { positive, negative } = labelMasks(labels);
  const positiveLoss = meanNonZero(d.sub(opts.posMargin ?? 0).relu(), positive).loss;
  const negativeLoss = meanNonZero(
    d
      .neg()
      .add(opts.negMargin ?? 1)
      .relu(),
    negative,
  ).loss;
  return { loss: positiveLoss.add(negativeLoss), positiveLoss, negativeLoss };
}
