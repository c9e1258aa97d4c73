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

/**
 * ∂conv/∂x (first order only). At stride 1 it is a plain convolution of the output gradient with the
 * weights flipped in space and transposed (out ↔ in channels), padded by d·(k−1)−p: ONNX Runtime's Conv is
 * 4–5× faster here than its ConvTranspose on the same shapes. Other strides use ConvTranspose.
 */
defineOp("convInputGrad", {
  infer: ([g], a) => ({ shape: a.inputShape, dtype: g!.dtype }),
  lower: (l, n, [y]) => {
    const a = n.attrs;
    const [g, w] = [inp(n, 0), inp(n, 1)];
    const [kh, kw] = [w.shape[2] as number, w.shape[3] as number];
    const [padH, padW] = [a.dilation * (kh - 1) - a.padding, a.dilation * (kw - 1) - a.padding];
    if (a.stride === 1 && padH >= 0 && padW >= 0) {
      const [flipped, wt] = [l.tmp(), l.tmp()];
      l.emit(
        "Slice",
        [
          l.name(w),
          int64s(l, [-1, -1]),
          int64s(l, [-(kh + 1), -(kw + 1)]),
          int64s(l, [2, 3]),
          int64s(l, [-1, -1]),
        ],
        [flipped],
      );
      l.emit("Transpose", [flipped], [wt], { perm: [1, 0, 2, 3] });
      l.emit("Conv", [l.name(g), wt], [y as string], {
        strides: [1, 1],
        pads: [padH, padW, padH, padW],
        dilations: [a.dilation, a.dilation],
      });
      return;
    }
    const pad = (size: number, ho: number, k: number) =>
      size - ((ho - 1) * a.stride - 2 * a.padding + a.dilation * (k - 1) + 1);
    const outputPadding = [
      pad(a.inputShape[2] as number, g.shape[2] as number, kh),
      pad(a.inputShape[3] as number, g.shape[3] as number, kw),
    ];
    l.emit("ConvTranspose", [l.name(g), l.name(w)], [y as string], {
      ...convOnnxAttrs(a),
      output_padding: outputPadding,
    });
  },
});

/**
 * ∂conv/∂w as one matrix product (first order only): dW[o, (c,i,j)] = Σ over (n,y,x) of g[n,o,y,x] ·
 * x̃[n,c, y·s+i·d, x·s+j·d], with x̃ the padded input. The input, channels first ([C, N, H, W]), is sliced once
 * per kernel tap into the columns [C·kh·kw, N·Ho·Wo] (im2col), and one Gemm against the output gradient
 * [O, N·Ho·Wo] sums over the batch and the positions together. (A convolution with batch and channels
 * swapped computes the same but as C products of [O, N·Ho·Wo]·[N·Ho·Wo, kh·kw], whose few columns run
 * ~10× slower.)
 */
defineOp("convWeightGrad", {
  infer: ([x], a) => ({ shape: a.weightShape, dtype: x!.dtype }),
  lower: (l, n, [y]) => {
    const a = n.attrs;
    const [x, g] = [inp(n, 0), inp(n, 1)];
    const [o, c, kh, kw] = a.weightShape as [number, number, number, number];
    const [ho, wo] = [g.shape[2] as number, g.shape[3] as number];
    const xt = l.tmp();
    l.emit("Transpose", [l.name(x)], [xt], { perm: [1, 0, 2, 3] });
    let xp = xt;
    if (a.padding > 0) {
      xp = l.tmp();
      const p = a.padding;
      l.emit("Pad", [xt, int64s(l, [0, 0, p, p, 0, 0, p, p])], [xp]);
    }
    const taps: string[] = [];
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const [tap, col] = [l.tmp(), l.tmp()];
        const [h0, w0] = [i * a.dilation, j * a.dilation];
        l.emit(
          "Slice",
          [
            xp,
            int64s(l, [h0, w0]),
            int64s(l, [h0 + a.stride * (ho - 1) + 1, w0 + a.stride * (wo - 1) + 1]),
            int64s(l, [2, 3]),
            int64s(l, [a.stride, a.stride]),
          ],
          [tap],
        );
        l.emit("Reshape", [tap, int64s(l, [c, 1, -1])], [col]);
        taps.push(col);
      }
    const [gt, g2] = [l.tmp(), l.tmp()];
    l.emit("Transpose", [l.name(g)], [gt], { perm: [1, 0, 2, 3] });
    l.emit("Reshape", [gt, int64s(l, [o, -1])], [g2]);
    const [cols, cols2, dw] = [l.tmp(), l.tmp(), l.tmp()];
    if (taps.length === 1) l.emit("Reshape", [taps[0] as string, int64s(l, [c, -1])], [cols2]);
    else {
      l.emit("Concat", taps, [cols], { axis: 1 });
      l.emit("Reshape", [cols, int64s(l, [c * kh * kw, -1])], [cols2]);
    }
    l.emit("Gemm", [g2, cols2], [dw], { transB: 1 });
    l.emit("Reshape", [dw, int64s(l, [o, c, kh, kw])], [y as string]);
  },
});
