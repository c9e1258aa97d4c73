/**
 * NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR (Chen et al. 2020, "A Simple
 * Framework for Contrastive Learning of Visual Representations").
 *
 *   z = [a; b]  (2N embeddings: two views of N samples; view aᵢ pairs with bᵢ)
 *   sᵢⱼ = sim(zᵢ, zⱼ) / τ
 *   ℓᵢ = −log( exp(sᵢ,p(i)) / Σ_{k≠i} exp(sᵢₖ) ),   p(i) = the other view of sample i
 *   loss = (1/2N) Σᵢ ℓᵢ
 *
 * Each of the 2N anchors has one positive and 2N − 2 negatives (every other view in the batch); the
 * anchor itself is left out of the denominator. Reduction: mean over the 2N anchors. `similarity` is
 * "cosine" (the paper), "dot" or "neg_l2" (see similarity.ts); τ defaults to 0.5.
 *
 * Example: `const { loss } = ntxentLoss(proj(view1), proj(view2), { temperature: 0.2 })`.
 */
import { concat, constant, type Tensor, where } from "../engine/index.js";
import { eye, staticDim } from "./masks.js";
import { type Similarity, similarity } from "./similarity.js";

export function ntxentLoss(
  a: Tensor,
  b: Tensor,
  opts: { temperature?: number; similarity?: Similarity } = {},
): { loss: Tensor; logits: Tensor } {
  const n = staticDim(a, 0, "ntxentLoss");
  const z = concat([a, b], 0);
  const scaled = similarity(z, z, opts.similarity ?? "cosine").div(opts.temperature ?? 0.5);
  // logits: the anchor's own entry is −∞, so the softmax runs over its positive and 2N − 2 negatives.
  const logits = where(eye(2 * n), Number.NEGATIVE_INFINITY, scaled);
  const picked = where(partnerMask(n), logits.logSoftmax(1), 0);
  return { loss: picked.sum().mul(-1 / (2 * n)), logits };
}

/** Boolean [2N, 2N] with true at (i, i + N) and (i + N, i). */
function partnerMask(n: number): Tensor {
  const m = 2 * n;
  const data = new Uint8Array(m * m);
  for (let i = 0; i < m; i++) data[i * m + ((i + n) % m)] = 1;
  return constant(data, [m, m], "bool");
}
