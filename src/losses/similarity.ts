/**
 * Pairwise similarities and distances between two sets of embeddings a [N, D] and b [M, D] → [N, M].
 *
 *   similarity  cosine:      Sᵢⱼ = âᵢ·b̂ⱼ          (x̂ = x / ‖x‖₂)
 *               dot:         Sᵢⱼ = aᵢ·bⱼ
 *               neg_l2:      Sᵢⱼ = −‖aᵢ − bⱼ‖₂
 *   distance    l2:          dᵢⱼ = ‖aᵢ − bⱼ‖₂
 *               squared_l2:  dᵢⱼ = ‖aᵢ − bⱼ‖₂²
 *               cosine:      dᵢⱼ = 1 − âᵢ·b̂ⱼ
 *
 * Squared distances come from ‖a‖² + ‖b‖² − 2a·b (one matrix product, no [N, M, D] tensor), clamped at 0.
 * That form carries rounding noise of about ε·(‖a‖² + ‖b‖²) (ε: the dtype's machine epsilon), so a squared
 * distance below 16ε times that counts as exactly 0, with gradient 0 (the subgradient of ‖·‖ at 0). This
 * keeps the diagonal of a self-distance matrix, and equal embeddings, free of 0·∞ = NaN.
 *
 * No reduction: the full matrix is returned.
 *
 * Example: `const sim = similarity(img, txt, "cosine"); // [N, M], 1 on matching directions`
 */
import { type Tensor, where } from "../engine/index.js";
import { l2Normalize } from "../nn/index.js";

export type Similarity = "cosine" | "dot" | "neg_l2";
export type Distance = "l2" | "squared_l2" | "cosine";

export function similarity(a: Tensor, b: Tensor, kind: Similarity = "cosine"): Tensor {
  switch (kind) {
    case "cosine":
      return cosine(a, b);
    case "dot":
      return a.matmul(b, { transB: true });
    case "neg_l2":
      return l2(a, b).neg();
  }
}

export function distance(a: Tensor, b: Tensor, kind: Distance = "l2"): Tensor {
  switch (kind) {
    case "l2":
      return l2(a, b);
    case "squared_l2":
      return squaredL2(a, b);
    case "cosine":
      return cosine(a, b).neg().add(1);
  }
}

function cosine(a: Tensor, b: Tensor): Tensor {
  return l2Normalize(a).matmul(l2Normalize(b), { transB: true });
}

function squaredL2(a: Tensor, b: Tensor): Tensor {
  const aa = a.square().sum(-1, true);
  const bb = b.square().sum(-1, true).T;
  const scale = aa.add(bb);
  const d2 = scale.sub(a.matmul(b, { transB: true, alpha: 2 }));
  const eps = a.dtype === "float64" ? 2 ** -52 : 2 ** -23;
  return where(d2.gt(scale.detach().mul(16 * eps)), d2, 0);
}

function l2(a: Tensor, b: Tensor): Tensor {
  const d2 = squaredL2(a, b);
  const nonzero = d2.gt(0);
  return where(nonzero, where(nonzero, d2, 1).sqrt(), 0);
}
