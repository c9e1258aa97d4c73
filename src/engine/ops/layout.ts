/** Layout ops: reshape, transpose, expand, slice and pad, concat and split, gather and its scatter. */
import { DTYPES } from "../dtype.js";
import { defineOp, type NoAttrs } from "../op.js";
import {
  broadcastShapes,
  type Dim,
  dimEqual,
  fmt,
  resolveReshape,
  type Shape,
  ShapeError,
} from "../shape.js";
import { apply, concat, type Tensor } from "../tensor.js";
import { inp, int64s, out, sameDtype, unbroadcast } from "./common.js";

declare module "../op.js" {
  interface OpAttrs {
    /** The target may hold one -1. */
    reshape: { shape: readonly Dim[] };
    transpose: { perm: readonly number[] };
    expand: { shape: readonly Dim[] };
    /** [start, end) along `axis`, step 1. */
    slice: { axis: number; start: number; end: number };
    /** Zeros before and after along one axis. */
    pad: { axis: number; before: number; after: number };
    concat: { axis: number };
    /** `parts` equal pieces along `axis`. */
    split: { axis: number; parts: number };
    gather: NoAttrs;
    /** Rows of the zero tensor the updates are summed into. */
    scatterAdd: { rows: Dim };
  }
}

defineOp("reshape", {
  infer: ([x], a) => ({ shape: resolveReshape(x!.shape, a.shape), dtype: x!.dtype }),
  lower: (l, n, [y]) => {
    const x = inp(n, 0);
    const target = out(n).shape;
    // Static dims are literal; a symbolic dim copies the input's dim at the same position (0) or is the one -1.
    let holes = 0;
    const spec = target.map((d, i) => {
      if (typeof d === "number") return d;
      if (x.shape[i] === d) return 0;
      holes++;
      return -1;
    });
    if (holes > 1)
      throw new ShapeError(
        `reshape: cannot lower ${fmt(x.shape)} → ${fmt(target)} with two new symbolic dims`,
      );
    l.emit("Reshape", [l.name(x), int64s(l, spec)], [y as string]);
  },
  grad: (n, [g]) => [g?.reshape(inp(n, 0).shape)],
});

defineOp("transpose", {
  infer: ([x], { perm }) => {
    const ok = perm.length === x!.rank && [...perm].sort((p, q) => p - q).every((p, i) => p === i);
    if (!ok)
      throw new ShapeError(
        `transpose: [${perm}] is not a permutation of the ${x!.rank} axes of ${fmt(x!.shape)}`,
      );
    return { shape: perm.map((p) => x!.shape[p] as Dim), dtype: x!.dtype };
  },
  lower: (l, n, [y]) => l.emit("Transpose", [l.name(inp(n, 0))], [y as string], { perm: [...n.attrs.perm] }),
  grad: (n, [g]) => {
    const { perm } = n.attrs;
    return [g?.transpose(perm.map((_, i) => perm.indexOf(i)))];
  },
});

defineOp("expand", {
  infer: ([x], a) => {
    const shape = broadcastShapes(x!.shape, a.shape);
    if (!shape || shape.length !== a.shape.length || !shape.every((d, i) => dimEqual(d, a.shape[i]!)))
      throw new ShapeError(`expand: ${fmt(x!.shape)} cannot broadcast to ${fmt(a.shape)}`);
    return { shape, dtype: x!.dtype };
  },
  lower: (l, n, [y]) => {
    const x = inp(n, 0);
    const lead = out(n).rank - x.rank;
    // A symbolic target dim that the input already has can be written as 1 (Expand keeps the input's dim);
    // others are read from the shape of the graph input that carries them.
    const spec = out(n).shape.map((d, i) => (typeof d === "string" && x.shape[i - lead] === d ? 1 : d));
    l.emit("Expand", [l.name(x), l.dims(spec)], [y as string]);
  },
  grad: (n, [g]) => [g && unbroadcast(g, inp(n, 0).shape)],
});

defineOp("slice", {
  infer: ([x], { axis, start, end }) => {
    const len = x!.shape[axis];
    if (typeof len !== "number") throw new ShapeError(`slice: axis ${axis} of ${fmt(x!.shape)} is symbolic`);
    if (!(0 <= start && start < end && end <= len)) {
      throw new ShapeError(`slice: range [${start}, ${end}) is not inside axis ${axis} of ${fmt(x!.shape)}`);
    }
    return { shape: x!.shape.map((d, i) => (i === axis ? end - start : d)), dtype: x!.dtype };
  },
  lower: (l, n, [y]) => {
    const { axis, start, end } = n.attrs;
    l.emit(
      "Slice",
      [l.name(inp(n, 0)), int64s(l, [start]), int64s(l, [end]), int64s(l, [axis])],
      [y as string],
    );
  },
  grad: (n, [g]) => {
    if (!g) return [];
    const { axis, start, end } = n.attrs;
    const len = inp(n, 0).shape[axis] as number;
    return [apply("pad", [g], { axis, before: start, after: len - end })];
  },
});

/** Zero padding along one axis (the gradient of slice). */
defineOp("pad", {
  infer: ([x], { axis, before, after }) => ({
    shape: x!.shape.map((d, i) => (i === axis ? (d as number) + before + after : d)),
    dtype: x!.dtype,
  }),
  lower: (l, n, [y]) => {
    const { axis, before, after } = n.attrs;
    const r = inp(n, 0).rank;
    const pads = new Array(2 * r).fill(0);
    pads[axis] = before;
    pads[r + axis] = after;
    l.emit("Pad", [l.name(inp(n, 0)), int64s(l, pads)], [y as string], { mode: "constant" });
  },
  grad: (n, [g]) => {
    const { axis, before } = n.attrs;
    return [g?.slice(axis, before, before + (inp(n, 0).shape[axis] as number))];
  },
});

defineOp("concat", {
  infer: (xs, { axis }) => {
    const first = xs[0] as Tensor;
    const dtype = sameDtype("concat", xs);
    let total: Dim = 0;
    for (const x of xs) {
      const ok = x.rank === first.rank && x.shape.every((d, i) => i === axis || dimEqual(d, first.shape[i]!));
      if (!ok)
        throw new ShapeError(
          `concat: shapes ${xs.map((t) => fmt(t.shape)).join(", ")} differ off axis ${axis}`,
        );
      const d = x.shape[axis];
      if (typeof d !== "number" || typeof total !== "number")
        throw new ShapeError("concat: symbolic concat axis");
      total += d;
    }
    return { shape: first.shape.map((d, i) => (i === axis ? total : d)), dtype };
  },
  lower: (l, n, [y]) =>
    l.emit(
      "Concat",
      n.inputs.map((t) => l.name(t)),
      [y as string],
      { axis: n.attrs.axis },
    ),
  grad: (n, [g]) => {
    if (!g) return [];
    const { axis } = n.attrs;
    let at = 0;
    return n.inputs.map((x) => {
      const len = x.shape[axis] as number;
      const part = g.slice(axis, at, at + len);
      at += len;
      return part;
    });
  },
});

/** Equal parts along one axis (ONNX Split); the gradient is one Concat of the parts' gradients. */
defineOp("split", {
  infer: ([x], { axis, parts }) => {
    const len = x!.shape[axis];
    if (typeof len !== "number" || len % parts !== 0)
      throw new ShapeError(
        `split: axis ${axis} of ${fmt(x!.shape)} does not divide into ${parts} equal parts`,
      );
    const shape = x!.shape.map((d, i) => (i === axis ? len / parts : d));
    return Array.from({ length: parts }, () => ({ shape, dtype: x!.dtype }));
  },
  lower: (l, n, ys) => l.emit("Split", [l.name(inp(n, 0))], ys, { axis: n.attrs.axis }),
  grad: (n, gs) => {
    if (gs.every((g) => !g)) return [];
    // A part without gradient contributes zeros (a rare case: all parts are usually used).
    const parts = gs.map((g, i) => g ?? (n.outputs[i] as Tensor).detach().mul(0));
    return [concat(parts, n.attrs.axis)];
  },
});

defineOp("gather", {
  infer: ([x, idx]) => {
    if (idx!.dtype !== "int64" && idx!.dtype !== "int32")
      throw new ShapeError(`gather: indices must be int32/int64, got ${idx!.dtype}`);
    return { shape: [...idx!.shape, ...x!.shape.slice(1)], dtype: x!.dtype };
  },
  lower: (l, n, [y]) => l.emit("Gather", [l.name(inp(n, 0)), l.name(inp(n, 1))], [y as string], { axis: 0 }),
  grad: (n, [g]) => [
    g && apply("scatterAdd", [g, inp(n, 1)], { rows: inp(n, 0).shape[0] as Dim }),
    undefined,
  ],
});

/** Sum rows of `updates` into a zero tensor at `indices` (the gradient of gather). */
defineOp("scatterAdd", {
  infer: ([u, idx], { rows }) => ({ shape: [rows, ...u!.shape.slice(idx!.rank)] as Shape, dtype: u!.dtype }),
  lower: (l, n, [y]) => {
    const [u, idx] = [inp(n, 0), inp(n, 1)];
    const tail = u.shape.slice(idx.rank) as number[];
    const zeros = l.tmp("zeros");
    l.emit("ConstantOfShape", [int64s(l, [n.attrs.rows as number, ...tail])], [zeros], {
      value: { tensor: { dtype: u.dtype, dims: [1], data: new DTYPES[u.dtype].array(1) } },
    });
    let index = l.name(idx);
    if (idx.dtype !== "int64") {
      const cast = l.tmp();
      l.emit("Cast", [index], [cast], { to: DTYPES.int64.onnx });
      index = cast;
    }
    const ix = l.tmp();
    l.emit("Unsqueeze", [index, int64s(l, [-1])], [ix]);
    l.emit("ScatterND", [zeros, ix, l.name(u)], [y as string], { reduction: "add" });
  },
  grad: (n, [g]) => [g?.gather(inp(n, 1)), undefined],
});
