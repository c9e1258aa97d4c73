/**
 * Supervised contrastive loss (Khosla et al. 2020, "Supervised Contrastive Learning"), L^sup_out.
 *
 *   features [N, V, D]: V views of N samples, flattened view-major into C = V·N contrast vectors
 *   sₐc = ẑₐ·ẑc / τ                                   (ẑ: L2-normalized)
 *   ℓₐ = −(τ/τ_base) · (1/|P(a)|) Σ_{p∈P(a)} log( exp(sₐₚ) / Σ_{c≠a} exp(sₐc) )
 *   loss = mean of ℓₐ over the anchors a with |P(a)| > 0
 *
 * P(a): every other contrast vector with the anchor's label (without labels: the other views of the same
 * sample, which makes this SimCLR's loss). Anchors: all C vectors ("all") or the first view of each sample
 * ("one"); the contrast set is always all C vectors. Anchors without any positive are excluded from the
 * mean (the paper's formula divides by |P(a)| = 0 for them); when no anchor has a positive the loss is 0.
 * τ and τ_base default to 0.07, so the τ/τ_base scaling is 1 unless τ changes.
 *
 * Example: `const { loss } = supConLoss(feats.reshape([n, 2, d]), input("labels", [n], "int64"))`.
 */
import { type Tensor, where } from "../engine/index.js";
import { l2Normalize } from "../nn/index.js";
import { UserError } from "../util/errors.js";
import { eye, maskedMean, staticDim } from "./masks.js";

export function supConLoss(
  features: Tensor,
  labels: Tensor | undefined,
  opts: {
    temperature?: number;
    baseTemperature?: number;
    contrastMode?: "all" | "one";
    normalized?: boolean;
  } = {},
): { loss: Tensor; logits: Tensor } {
  if (features.rank !== 3) {
    throw new UserError(`supConLoss: features must be [N, views, D], got ${features}`);
  }
  const n = staticDim(features, 0, "supConLoss");
  const v = staticDim(features, 1, "supConLoss");
  const d = features.shape[2] as number;
  if (n * v < 2) throw new UserError("supConLoss: needs at least two feature vectors to contrast");
  const temperature = opts.temperature ?? 0.07;
  const base = opts.baseTemperature ?? 0.07;
  const one = opts.contrastMode === "one";

  const z = opts.normalized ? features : l2Normalize(features);
  const contrast = z.transpose([1, 0, 2]).reshape([v * n, d]);
  const anchors = one ? z.slice(1, 0, 1).reshape([n, d]) : contrast;
  const rows = one ? n : v * n;
  const self = eye(rows, v * n);
  const logits = where(
    self,
    Number.NEGATIVE_INFINITY,
    anchors.matmul(contrast, { transB: true }).div(temperature),
  );

  const same = labels ? labels.unsqueeze(1).eq(labels.unsqueeze(0)) : eye(n);
  const tiled = same
    .reshape([1, n, 1, n])
    .expand([rows / n, n, v, n])
    .reshape([rows, v * n]);
  const positive = tiled.and(self.not());

  const logProb = logits.logSoftmax(1);
  const posCount = positive.cast(logits.dtype).sum(1);
  const perAnchor = where(positive, logProb, 0).sum(1).div(posCount.maximum(1));
  const loss = maskedMean(perAnchor, posCount.gt(0)).mean.mul(-temperature / base);
  return { loss, logits };
}
