/** Matrix products: batched matmul, the dense layer, and inference-only packed self-attention. */
import { defineOp, type NoAttrs } from "../op.js";
import { broadcastShapes, type Dim, dimEqual, fmt, ShapeError } from "../shape.js";
import type { Tensor } from "../tensor.js";
import {
  flat2d,
  inp,
  int64s,
  out,
  requireFloat,
  reshapeTo,
  rowsOf,
  sameDtype,
  scalarConst,
  unbroadcast,
} from "./common.js";
import { attentionOnCpu, biasApartFromGemm, matmulOnCpu, weightGradTransposed } from "./ort-cpu.js";

declare module "../op.js" {
  interface OpAttrs {
    /** y = alpha · op(a) · op(b), op a transpose of the last two axes where asked. */
    matmul: { transA: boolean; transB: boolean; alpha: number };
    linear: NoAttrs;
    attention: { heads: number; causal: boolean };
  }
}

function matmulShape(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Dim[] {
  if (a.rank < 2 || b.rank < 2) {
    throw new ShapeError(
      `matmul: both operands need rank ≥ 2 (got ${fmt(a.shape)} and ${fmt(b.shape)}); unsqueeze vectors`,
    );
  }
  const [m, ka] = transA
    ? [a.shape[a.rank - 1], a.shape[a.rank - 2]]
    : [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const [kb, n] = transB
    ? [b.shape[b.rank - 1], b.shape[b.rank - 2]]
    : [b.shape[b.rank - 2], b.shape[b.rank - 1]];
  if (!dimEqual(ka as Dim, kb as Dim)) {
    throw new ShapeError(
      `matmul: inner dimensions differ: ${fmt(a.shape)}${transA ? "ᵀ" : ""} × ${fmt(b.shape)}${transB ? "ᵀ" : ""} (${ka} vs ${kb})`,
    );
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (!batch)
    throw new ShapeError(`matmul: batch dimensions of ${fmt(a.shape)} and ${fmt(b.shape)} do not broadcast`);
  return [...batch, m as Dim, n as Dim];
}

defineOp("matmul", {
  infer: ([a, b], at) => {
    requireFloat("matmul", a!);
    return { shape: matmulShape(a!, b!, at.transA, at.transB), dtype: sameDtype("matmul", [a!, b!]) };
  },
  lower: (l, n, [y]) => {
    const [a, b] = [inp(n, 0), inp(n, 1)];
    if (matmulOnCpu(l, a, b, n.attrs, out(n), y as string)) return;
    const { transA, transB, alpha } = n.attrs;
    const swap = (t: Tensor): string => {
      const perm = [...t.shape.keys()];
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm.length - 1, perm.length - 2];
      const s = l.tmp();
      l.emit("Transpose", [l.name(t)], [s], { perm });
      return s;
    };
    const ins = [transA ? swap(a) : l.name(a), transB ? swap(b) : l.name(b)];
    if (alpha === 1) return l.emit("MatMul", ins, [y as string]);
    const p = l.tmp();
    l.emit("MatMul", ins, [p]);
    l.emit("Mul", [p, scalarConst(l, alpha, a.dtype)], [y as string]);
  },
  grad: (n, [g]) => {
    if (!g) return [];
    const [a, b] = [inp(n, 0), inp(n, 1)];
    const { transA, transB, alpha } = n.attrs;
    // A weight (rank 2) against batched activations: one 2-D product over the flattened batch.
    let gb: Tensor;
    if (b.rank === 2 && a.rank > 2 && !transA) {
      gb = transB
        ? flat2d(g).matmul(flat2d(a), { transA: true, alpha })
        : flat2d(a).matmul(flat2d(g), { transA: true, alpha });
    } else {
      gb = transB
        ? g.matmul(a, { transA: true, transB: transA, alpha })
        : a.matmul(g, { transA: !transA, alpha });
    }
    const ga = transA
      ? b.matmul(g, { transA: transB, transB: true, alpha })
      : g.matmul(b, { transB: !transB, alpha });
    return [unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)];
  },
});

/**
 * A dense layer, y = x·Wᵀ + b with W [N, K] and x [..., K], lowered to one Gemm over the flattened batch so
 * that the bias is added inside the product (a separate broadcast Add is a full extra pass over y), except
 * where {@link biasApartFromGemm} says the Gemm runs faster without it.
 */
defineOp("linear", {
  infer: ([x, w, b]) => {
    requireFloat("linear", x!);
    if (w!.rank !== 2) throw new ShapeError(`linear: the weight must be [out, in], got ${fmt(w!.shape)}`);
    const [n, k] = w!.shape as [Dim, Dim];
    if (x!.rank < 1 || !dimEqual(x!.shape[x!.rank - 1] as Dim, k))
      throw new ShapeError(`linear: input ${fmt(x!.shape)} does not end in the weight's ${k} input features`);
    if (b && (b.rank !== 1 || !dimEqual(b.shape[0] as Dim, n)))
      throw new ShapeError(`linear: bias ${fmt(b.shape)} does not match the weight's ${n} outputs`);
    return { shape: [...x!.shape.slice(0, -1), n], dtype: sameDtype("linear", b ? [x!, w!, b] : [x!, w!]) };
  },
  lower: (l, n, [y]) => {
    const x = inp(n, 0);
    const [wName, bName] = n.inputs.slice(1).map((t) => l.name(t));
    const k = x.shape[x.rank - 1] as number;
    const biasApart = bName !== undefined && biasApartFromGemm(inp(n, 1).shape[0] as number, k);
    const gemmIns = biasApart || bName === undefined ? [wName as string] : [wName as string, bName];
    const product = x.rank === 2 && !biasApart ? (y as string) : l.tmp("gemm");
    l.emit("Gemm", [rowsOf(l, x), ...gemmIns], [product], { transB: 1 });
    // Reshape back before the bias Add, so that an activation reading y follows the Add directly (ONNX
    // Runtime then fuses Add + Gelu into BiasGelu where the sum has no other reader, i.e. in inference).
    let shaped = product;
    if (x.rank !== 2) {
      shaped = biasApart ? l.tmp("shaped") : (y as string);
      reshapeTo(l, product, out(n).shape, shaped);
    }
    if (biasApart) l.emit("Add", [shaped, bName as string], [y as string]);
  },
  grad: (n, [g]) => {
    if (!g) return [];
    const [x, w, b] = [inp(n, 0), inp(n, 1), n.inputs[2]];
    const gx = g.matmul(w);
    const [outF, inF] = w.shape as [number, number];
    const gw = weightGradTransposed(outF, inF)
      ? flat2d(x).matmul(flat2d(g), { transA: true }).transpose([1, 0])
      : flat2d(g).matmul(flat2d(x), { transA: true });
    const gb = b && g.sum([...Array(g.rank - 1).keys()]);
    return b ? [gx, gw, gb] : [gx, gw];
  },
});

/**
 * Inference-only multi-head self-attention with a packed q/k/v projection (w [3D, D], b [3D], as PyTorch's
 * in_proj): ONNX Runtime's contrib Attention kernel where allowed, else the same computation in standard
 * ONNX ops (for exported graphs). No gradient rule: training uses the composite in nn/attention.ts.
 */
defineOp("attention", {
  infer: ([x, w, b], a) => {
    requireFloat("attention", x!);
    const d = x!.shape[x!.rank - 1] as number;
    if (
      x!.rank !== 3 ||
      !dimEqual(w!.shape[0] as Dim, 3 * d) ||
      !dimEqual(w!.shape[1] as Dim, d) ||
      b!.shape[0] !== 3 * d
    )
      throw new ShapeError(
        `attention: expected x [B, T, D], w [3D, D], b [3D]; got ${fmt(x!.shape)}, ${fmt(w!.shape)}, ${fmt(b!.shape)}`,
      );
    if (d % a.heads !== 0) throw new ShapeError(`attention: width ${d} is not divisible by ${a.heads} heads`);
    return { shape: x!.shape, dtype: x!.dtype };
  },
  lower: (l, n, [y]) => {
    const [x, w, b] = n.inputs as [Tensor, Tensor, Tensor];
    const { heads, causal } = n.attrs;
    const d = x.shape[2] as number;
    const dh = d / heads;
    const dt = x.dtype;
    const wT = l.tmp("wT");
    l.emit("Transpose", [l.name(w)], [wT], { perm: [1, 0] });
    if (attentionOnCpu(l, dt, { x: l.name(x), wT, b: l.name(b) }, n.attrs, y as string)) return;
    const t = x.shape[1] as number;
    const [proj, qkv, heads5] = [l.tmp("qkv"), l.tmp("qkv"), l.tmp("qkv")];
    const mm = l.tmp("qkv");
    l.emit("MatMul", [l.name(x), wT], [mm]);
    l.emit("Add", [mm, l.name(b)], [proj]);
    l.emit("Reshape", [proj, int64s(l, [0, 0, 3, heads, dh])], [qkv]);
    l.emit("Transpose", [qkv], [heads5], { perm: [2, 0, 3, 1, 4] }); // [3, B, H, T, dh]
    const [q, k, v] = [l.tmp("q"), l.tmp("k"), l.tmp("v")];
    l.emit("Split", [heads5], [q, k, v], { axis: 0 }); // equal parts (opset 13-17 form)
    const sq = (name: string) => {
      const o = l.tmp(name);
      l.emit("Squeeze", [name, int64s(l, [0])], [o]);
      return o;
    };
    const [qs, ks, vs] = [sq(q), sq(k), sq(v)];
    const kT = l.tmp("kT");
    l.emit("Transpose", [ks], [kT], { perm: [0, 1, 3, 2] });
    const [raw, scores] = [l.tmp("scores"), l.tmp("scores")];
    l.emit("MatMul", [qs, kT], [raw]);
    l.emit("Mul", [raw, scalarConst(l, 1 / Math.sqrt(dh), dt)], [scores]);
    let logits = scores;
    if (causal) {
      const mask = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) mask[i * t + j] = Number.NEGATIVE_INFINITY;
      logits = l.tmp("masked");
      l.emit("Add", [scores, l.constant(mask, dt, [t, t])], [logits]);
    }
    const [p, ctx, ctxT] = [l.tmp("attn"), l.tmp("ctx"), l.tmp("ctx")];
    l.emit("Softmax", [logits], [p], { axis: -1 });
    l.emit("MatMul", [p, vs], [ctx]);
    l.emit("Transpose", [ctx], [ctxT], { perm: [0, 2, 1, 3] });
    l.emit("Reshape", [ctxT, int64s(l, [0, 0, d])], [y as string]);
  },
});
