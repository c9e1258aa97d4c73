/**
 * Masks and reductions shared by the losses: identity and label masks (built in the graph, so labels stay
 * runtime data), the batch-size check, and masked means that stay finite when nothing is selected.
 */
import { constant, type Tensor, where } from "../engine/index.js";
import { UserError } from "../util/errors.js";

/** A dimension that must be known when the graph is traced (the masks below are constants of that size). */
export function staticDim(t: Tensor, axis: number, loss: string): number {
  const d = t.shape[axis < 0 ? axis + t.rank : axis];
  if (typeof d !== "number") {
    throw new UserError(`${loss}: needs a fixed batch size; axis ${axis} of ${t} is symbolic ('${d}')`);
  }
  return d;
}

/** Boolean [rows, cols] with true at (i, i). */
export function eye(rows: number, cols = rows): Tensor {
  const data = new Uint8Array(rows * cols);
  for (let k = 0; k < Math.min(rows, cols); k++) data[k * cols + k] = 1;
  return constant(data, [rows, cols], "bool");
}

/**
 * Pair masks from integer labels [N]: `positive` (same label, i ≠ j) and `negative` (different label),
 * both boolean [N, N].
 */
export function labelMasks(labels: Tensor): { positive: Tensor; negative: Tensor } {
  const n = staticDim(labels, 0, "labelMasks");
  const same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
  return { positive: same.and(eye(n).not()), negative: same.not() };
}

/** Σ values over `mask` / (number selected), and 0 (not NaN) when the mask selects nothing. */
export function maskedMean(values: Tensor, mask: Tensor): { mean: Tensor; count: Tensor } {
  const count = mask.cast(values.dtype).sum();
  const mean = where(mask, values, 0).sum().div(count.maximum(1));
  return { mean, count };
}

/**
 * pytorch-metric-learning's AvgNonZeroReducer: the mean of the selected losses that are > 0, and 0 when
 * there are none. `active` counts them.
 */
export function meanNonZero(losses: Tensor, mask: Tensor): { loss: Tensor; active: Tensor } {
  const { mean, count } = maskedMean(losses, mask.and(losses.gt(0)));
  return { loss: mean, active: count };
}
