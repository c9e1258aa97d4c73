/**
 * CLIP's symmetric InfoNCE loss (Radford et al. 2021; van den Oord et al. 2018 for InfoNCE).
 *
 *   logits = s · Î·T̂ᵀ  (Î, T̂: L2-normalized image and text embeddings [N, D]; s = exp(logit_scale))
 *   loss = ½ · ( CE(logits, diag) + CE(logitsᵀ, diag) )
 *        = −(1/2N) Σᵢ [ log softmax_j(logits)ᵢᵢ + log softmax_i(logits)ᵢᵢ ]
 *
 * Reduction: mean over the N pairs, averaged over both directions. Pair i is the positive for row i and
 * column i; every other entry in its row (column) is a negative.
 *
 * Example: `const { loss, logits } = clipLoss(img, txt, model.scale())`.
 */
import { constant, type Tensor } from "../engine/index.js";
import { l2Normalize } from "../nn/index.js";

export function clipLoss(image: Tensor, text: Tensor, scale: Tensor, opts: { normalized?: boolean } = {}) {
  const i = opts.normalized ? image : l2Normalize(image);
  const t = opts.normalized ? text : l2Normalize(text);
  const n = i.shape[0] as number;
  const logits = i.matmul(t, { transB: true }).mul(scale);
  const eye = identity(n, logits.dtype);
  const rowTerm = logits.logSoftmax(1).mul(eye).sum();
  const colTerm = logits.logSoftmax(0).mul(eye).sum();
  const loss = rowTerm.add(colTerm).mul(-0.5 / n);
  return { loss, logits };
}

function identity(n: number, dtype: "float32" | "float64" | string): Tensor {
  const data = dtype === "float64" ? new Float64Array(n * n) : new Float32Array(n * n);
  for (let k = 0; k < n; k++) data[k * n + k] = 1;
  return constant(data, [n, n], dtype === "float64" ? "float64" : "float32");
}
