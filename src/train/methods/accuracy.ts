/** In-batch retrieval accuracy, the metric most methods log beside their loss. */
import { constant, type Tensor } from "../../engine/index.js";

/** Fraction of rows whose positive (column `positive(row)`, default the diagonal) scores highest. */
export function inBatchAccuracy(logits: Tensor, positive: (row: number) => number = (i) => i): Tensor {
  const rows = logits.shape[0] as number;
  const target = BigInt64Array.from({ length: rows }, (_, i) => BigInt(positive(i)));
  return logits
    .detach()
    .argmax(1)
    .eq(constant(target, [rows], "int64"))
    .cast("float32")
    .mean();
}
