/** Reductions (sum, mean, max, argmax) and the softmax family. */
import { defineOp } from "../op.js";
import { type Dim, sizeOf } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { floatLike, inp, int64s, keptShape, out, requireFloat } from "./common.js";
import { sumLeadingAsMatMul } from "./ort-cpu.js";

declare module "../op.js" {
  interface OpAttrs {
    /** `axes` are normalized (non-negative); an empty list is the identity. */
    sum: { axes: number[]; keepdims: boolean };
    mean: { axes: number[]; keepdims: boolean };
    max: { axes: number[]; keepdims: boolean };
    argmax: { axis: number; keepdims: boolean };
    softmax: { axis: number };
    logSoftmax: { axis: number };
  }
}

function reduction(
  name: "sum" | "mean" | "max",
  onnx: string,
  grad: (x: Tensor, y: Tensor, g: Tensor, axes: number[]) => Tensor,
): void {
  defineOp(name, {
    infer: ([x], { axes, keepdims }) => {
      requireFloat(name, x!);
      const shape = keepdims ? keptShape(x!.shape, axes) : x!.shape.filter((_, i) => !axes.includes(i));
      return { shape, dtype: x!.dtype };
    },
    lower: (l, n, [y]) => {
      const { axes } = n.attrs;
      const x = l.name(inp(n, 0));
      if (axes.length === 0) return l.emit("Identity", [x], [y as string]);
      const keepdims = n.attrs.keepdims ? 1 : 0;
      if (name === "sum" && sumLeadingAsMatMul(l, inp(n, 0), out(n), axes, y as string)) return;
      // ReduceSum takes its axes as an input since opset 13; ReduceMean and ReduceMax as an attribute (to 17).
      if (name === "sum") l.emit(onnx, [x, int64s(l, axes)], [y as string], { keepdims });
      else l.emit(onnx, [x], [y as string], { axes, keepdims });
    },
    grad: (n, [g]) => {
      if (!g) return [];
      const x = inp(n, 0);
      const { axes, keepdims } = n.attrs;
      const kept = keptShape(x.shape, axes);
      const gk = keepdims ? g : g.reshape(kept);
      const yk = keepdims ? out(n) : out(n).reshape(kept);
      return [grad(x, yk, gk, axes)];
    },
  });
}

const count = (x: Tensor, axes: number[]): number => sizeOf(axes.map((i) => x.shape[i] as Dim));
reduction("sum", "ReduceSum", (x, _y, g) => g.expand(x.shape));
reduction("mean", "ReduceMean", (x, _y, g, axes) => g.mul(1 / count(x, axes)).expand(x.shape));
reduction("max", "ReduceMax", (x, y, g, axes) => {
  const hit = x.eq(y).cast(x.dtype);
  return hit.mul(g.div(hit.sum(axes, true)));
});

/** Integer result: not differentiable (no gradient rule). */
defineOp("argmax", {
  infer: ([x], { axis, keepdims }) => {
    const shape = keepdims ? keptShape(x!.shape, [axis]) : x!.shape.filter((_, i) => i !== axis);
    return { shape, dtype: "int64" };
  },
  lower: (l, n, [y]) =>
    l.emit("ArgMax", [l.name(inp(n, 0))], [y as string], {
      axis: n.attrs.axis,
      keepdims: n.attrs.keepdims ? 1 : 0,
    }),
});

defineOp("softmax", {
  infer: ([x]) => floatLike("softmax", x!),
  lower: (l, n, [y]) => l.emit("Softmax", [l.name(inp(n, 0))], [y as string], { axis: n.attrs.axis }),
  grad: (n, [g]) => {
    if (!g) return [];
    const y = out(n);
    return [y.mul(g.sub(g.mul(y).sum(n.attrs.axis, true)))];
  },
});

defineOp("logSoftmax", {
  infer: ([x]) => floatLike("logSoftmax", x!),
  lower: (l, n, [y]) => l.emit("LogSoftmax", [l.name(inp(n, 0))], [y as string], { axis: n.attrs.axis }),
  grad: (n, [g]) => {
    if (!g) return [];
    return [g.sub(out(n).exp().mul(g.sum(n.attrs.axis, true)))];
  },
});
