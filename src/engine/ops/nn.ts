/** Neural-network ops with their own ONNX kernels: layer normalization and 2-D convolution. */
import { defineOp } from "../op.js";
import { type Dim, dimEqual, fmt, type Shape, ShapeError } from "../shape.js";
import { apply, type Tensor } from "../tensor.js";
import { inp, int64s, out, requireFloat, scalarConst } from "./common.js";

/** Convolution geometry (square kernels' stride, padding and dilation, the same on both axes). */
export interface ConvAttrs {
  stride: number;
  padding: number;
  dilation: number;
}

declare module "../op.js" {
  interface OpAttrs {
    layerNorm: { eps: number };
    conv2d: ConvAttrs;
    convInputGrad: ConvAttrs & { inputShape: Shape };
    convWeightGrad: ConvAttrs & { weightShape: Shape };
  }
}

/** LayerNormalization over the last axis; outputs y, mean and 1/std (the last two feed the gradient). */
defineOp("layerNorm", {
  infer: ([x, w, b]) => {
    requireFloat("layerNorm", x!);
    const c = x!.shape[x!.rank - 1] as Dim;
    for (const p of [w, b]) {
      if (p && (p.rank !== 1 || !dimEqual(p.shape[0] as Dim, c))) {
        throw new ShapeError(
          `layerNorm: gain/bias ${fmt(p.shape)} must be [${c}] for input ${fmt(x!.shape)}`,
        );
      }
    }
    const stat = { shape: [...x!.shape.slice(0, -1), 1], dtype: x!.dtype };
    return [{ shape: x!.shape, dtype: x!.dtype }, stat, stat];
  },
  lower: (l, n, outs) => {
    const ins = n.inputs.map((t) => l.name(t));
    const { eps } = n.attrs;
    if (inp(n, 0).dtype === "float32")
      return l.emit("LayerNormalization", ins, outs, { axis: -1, epsilon: { f: eps } });
    // ONNX Runtime has no float64 LayerNormalization with float64 statistics: spell it out.
    const [x, w, b] = ins as [string, string, string];
    const [y, mean, invStd] = outs as [string, string, string];
    const [d, sq, v, ve, sd, xh, xw] = [l.tmp(), l.tmp(), l.tmp(), l.tmp(), l.tmp(), l.tmp(), l.tmp()];
    l.emit("ReduceMean", [x], [mean], { axes: [-1], keepdims: 1 });
    l.emit("Sub", [x, mean], [d]);
    l.emit("Mul", [d, d], [sq]);
    l.emit("ReduceMean", [sq], [v], { axes: [-1], keepdims: 1 });
    l.emit("Add", [v, scalarConst(l, eps, "float64")], [ve]);
    l.emit("Sqrt", [ve], [sd]);
    l.emit("Reciprocal", [sd], [invStd]);
    l.emit("Mul", [d, invStd], [xh]);
    l.emit("Mul", [xh, w], [xw]);
    l.emit("Add", [xw, b], [y]);
  },
  grad: (n, [g]) => {
    if (!g) return [];
    const [x, w, b] = n.inputs as [Tensor, Tensor, Tensor | undefined];
    const [mean, invStd] = [out(n, 1), out(n, 2)];
    const lead = [...Array(x.rank - 1).keys()];
    const xhat = x.sub(mean).mul(invStd);
    const dxhat = g.mul(w);
    // dx = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))
    const dx = dxhat
      .sub(dxhat.mean(-1, true))
      .sub(xhat.mul(dxhat.mul(xhat).mean(-1, true)))
      .mul(invStd);
    return [dx, g.mul(xhat).sum(lead), b ? g.sum(lead) : undefined];
  },
});

const convOut = (size: number, k: number, a: ConvAttrs): number =>
  Math.floor((size + 2 * a.padding - a.dilation * (k - 1) - 1) / a.stride) + 1;

const convOnnxAttrs = (a: ConvAttrs) => ({
  strides: [a.stride, a.stride],
  pads: [a.padding, a.padding, a.padding, a.padding],
  dilations: [a.dilation, a.dilation],
});

defineOp("conv2d", {
  infer: ([x, w], a) => {
    requireFloat("conv2d", x!);
    if (x!.rank !== 4 || w!.rank !== 4)
      throw new ShapeError(`conv2d: expected x [N,C,H,W] and w [O,C,kh,kw]`);
    const [, c, h, wd] = x!.shape;
    const [o, ci, kh, kw] = w!.shape as number[];
    if (!dimEqual(c as Dim, ci as number))
      throw new ShapeError(`conv2d: input has ${c} channels, weight expects ${ci}`);
    if (typeof h !== "number" || typeof wd !== "number")
      throw new ShapeError("conv2d: spatial dims must be static");
    const [ho, wo] = [convOut(h, kh!, a), convOut(wd, kw!, a)];
    if (ho < 1 || wo < 1) throw new ShapeError(`conv2d: kernel ${kh}×${kw} does not fit input ${h}×${wd}`);
    return { shape: [x!.shape[0] as Dim, o as number, ho, wo], dtype: x!.dtype };
  },
  lower: (l, n, [y]) =>
    l.emit("Conv", [l.name(inp(n, 0)), l.name(inp(n, 1))], [y as string], convOnnxAttrs(n.attrs)),
  grad: (n, [g]) => {
    if (!g) return [];
    const [x, w] = [inp(n, 0), inp(n, 1)];
    const { stride, padding, dilation } = n.attrs;
    const geometry = { stride, padding, dilation };
    return [
      apply("convInputGrad", [g, w], { ...geometry, inputShape: x.shape }),
      apply("convWeightGrad", [x, g], { ...geometry, weightShape: w.shape }),
    ];
  },
});

/** ∂conv/∂x: a transposed convolution of the output gradient with the same weights (first order only). */
defineOp("convInputGrad", {
  infer: ([g], a) => ({ shape: a.inputShape, dtype: g!.dtype }),
  lower: (l, n, [y]) => {
    const a = n.attrs;
    const [g, w] = [inp(n, 0), inp(n, 1)];
    const pad = (size: number, ho: number, k: number) =>
      size - ((ho - 1) * a.stride - 2 * a.padding + a.dilation * (k - 1) + 1);
    const outputPadding = [
      pad(a.inputShape[2] as number, g.shape[2] as number, w.shape[2] as number),
      pad(a.inputShape[3] as number, g.shape[3] as number, w.shape[3] as number),
    ];
    l.emit("ConvTranspose", [l.name(g), l.name(w)], [y as string], {
      ...convOnnxAttrs(a),
      output_padding: outputPadding,
    });
  },
});

/**
 * ∂conv/∂w as a convolution: treat channels as the batch and the batch as channels, so that the output
 * gradient becomes the kernel (stride and dilation swap roles), then crop to the kernel size (first order
 * only).
 */
defineOp("convWeightGrad", {
  infer: ([x], a) => ({ shape: a.weightShape, dtype: x!.dtype }),
  lower: (l, n, [y]) => {
    const a = n.attrs;
    const [x, g] = [inp(n, 0), inp(n, 1)];
    const [xt, gt, r, crop] = [l.tmp(), l.tmp(), l.tmp(), l.tmp()];
    l.emit("Transpose", [l.name(x)], [xt], { perm: [1, 0, 2, 3] });
    l.emit("Transpose", [l.name(g)], [gt], { perm: [1, 0, 2, 3] });
    l.emit("Conv", [xt, gt], [r], {
      strides: [a.dilation, a.dilation],
      pads: [a.padding, a.padding, a.padding, a.padding],
      dilations: [a.stride, a.stride],
    });
    const [kh, kw] = [a.weightShape[2] as number, a.weightShape[3] as number];
    l.emit("Slice", [r, int64s(l, [0, 0]), int64s(l, [kh, kw]), int64s(l, [2, 3])], [crop]);
    l.emit("Transpose", [crop], [y as string], { perm: [1, 0, 2, 3] });
  },
});
