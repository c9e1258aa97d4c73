/** Composite functions built from engine ops (their gradients come from the ops they are made of). */
import { arange, random, type Tensor, where } from "../engine/index.js";

export type Activation = "gelu" | "gelu_tanh" | "quick_gelu" | "relu";

export function activate(x: Tensor, act: Activation): Tensor {
  switch (act) {
    case "gelu":
      return x.gelu();
    case "gelu_tanh":
      return x.gelu("tanh");
    case "quick_gelu":
      return x.quickGelu();
    case "relu":
      return x.relu();
  }
}

/** x / max(‖x‖₂, eps) along an axis, as torch.nn.functional.normalize. */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  return x.div(x.square().sum(axis, true).sqrt().maximum(eps));
}

/** log Σ exp(x) along an axis, stabilized by the (detached) max. */
export function logSumExp(x: Tensor, axis = -1, keepdims = false): Tensor {
  const m = x.max(axis, true).detach();
  const out = x.sub(m).exp().sum(axis, true).log().add(m);
  return keepdims ? out : out.squeeze(axis);
}

/** One-hot rows (float) for integer labels [N] over `classes`. */
export function oneHot(labels: Tensor, classes: number, dtype: "float32" | "float64" = "float32"): Tensor {
  return labels
    .unsqueeze(-1)
    .eq(arange(classes, labels.dtype as "int64"))
    .cast(dtype);
}

/**
 * Mean cross-entropy of logits [N, C] against integer labels [N]:
 * −(1/N) Σᵢ log softmax(logitsᵢ)[labelᵢ].
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const classes = logits.shape[1] as number;
  const picked = logits
    .logSoftmax(-1)
    .mul(oneHot(labels, classes, logits.dtype as "float32"))
    .sum(-1);
  return picked.mean().neg();
}

/**
 * Inverted dropout: zero each element with probability p and scale the rest by 1/(1−p). The mask is drawn
 * from a seeded generator anew on every step (see `random`).
 */
export function dropout(x: Tensor, p: number, seed: number, training: boolean): Tensor {
  if (!training || p === 0) return x;
  const keep = random(x.shape as number[], { seed }).ge(p);
  return where(keep, x.mul(1 / (1 - p)), 0);
}
