/**
 * Leaves: graph inputs, constants and random tensors. The compiler lowers them itself (graph inputs,
 * initializers, and inputs the session fills from its counter-based generator).
 */
import type { DType, TypedArray } from "../dtype.js";
import { defineOp, type OutSpec } from "../op.js";
import { type Dim, fmt, type Shape, ShapeError, sizeOf } from "../shape.js";

declare module "../op.js" {
  interface OpAttrs {
    input: { name: string; shape: readonly Dim[]; dtype: DType };
    constant: { data: TypedArray | readonly number[]; shape: readonly number[]; dtype: DType };
    random: { shape: readonly number[]; seed: number; distribution: "uniform" | "normal"; dtype: DType };
  }
}

const leaf = (a: { shape: Shape; dtype: DType }): OutSpec => ({ shape: a.shape, dtype: a.dtype });
const byCompiler = () => {};

defineOp("input", { infer: (_, a) => leaf(a), lower: byCompiler });
defineOp("constant", {
  infer: (_, a) => {
    const n = sizeOf(a.shape);
    if (a.data.length !== n)
      throw new ShapeError(`constant: ${a.data.length} values for shape ${fmt(a.shape)}`);
    return leaf(a);
  },
  lower: byCompiler,
});
defineOp("random", { infer: (_, a) => leaf(a), lower: byCompiler });
