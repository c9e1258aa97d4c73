/**
 * SigLIP's pairwise sigmoid loss (Zhai et al. 2023, "Sigmoid Loss for Language Image Pre-Training").
 *
 *   zᵢⱼ = t · x̂ᵢ·ŷⱼ + b        (x̂, ŷ: L2-normalized image and text embeddings [N, D]; t = exp(t'))
 *   loss = −(1/N) Σᵢ Σⱼ log σ(lᵢⱼ · zᵢⱼ),   lᵢⱼ = 1 if i = j else −1
 *
 * Every image-text pair is an independent binary classification: the matching pair is positive, the other
 * N − 1 in its row are negatives. Reduction as in the paper: sum over j, mean over the N images i.
 * log σ(x) = min(x, 0) − log(1 + e^−|x|), which neither overflows nor loses the gradient for large |x|.
 * The learnable log-temperature t' and bias b start at t' = log 10 (t = 10) and b = −10 (`SIGLIP_INIT`),
 * so that the many negatives do not dominate the first steps.
 *
 * Example:
 *   const tPrime = input("logit_scale", []), bias = input("logit_bias", []);   // fed SIGLIP_INIT at step 0
 *   const { loss } = siglipLoss(img, txt, tPrime, bias);
 */
import type { Tensor } from "../engine/index.js";
import { l2Normalize } from "../nn/index.js";
import { eye, staticDim } from "./masks.js";

/** Initial values of the learnable log-temperature t' (t = exp(t') = 10) and bias b from the paper. */
export const SIGLIP_INIT = { logTemperature: Math.log(10), bias: -10 } as const;

export function siglipLoss(
  image: Tensor,
  text: Tensor,
  logTemperature: Tensor,
  bias: Tensor,
  opts: { normalized?: boolean } = {},
): { loss: Tensor; logits: Tensor } {
  const n = staticDim(image, 0, "siglipLoss");
  const x = opts.normalized ? image : l2Normalize(image);
  const y = opts.normalized ? text : l2Normalize(text);
  const logits = x.matmul(y, { transB: true }).mul(logTemperature.exp()).add(bias);
  const signed = logits.mul(eye(n).cast(logits.dtype).mul(2).sub(1));
  const loss = logSigmoid(signed)
    .sum()
    .mul(-1 / n);
  return { loss, logits };
}

function logSigmoid(x: Tensor): Tensor {
  return x.minimum(0).sub(x.abs().neg().exp().add(1).log());
}
