/**
 * The op table: every op the engine knows, each with its shape rule (`infer`), its ONNX lowering (`lower`)
 * and its gradient rule (`grad`), in one place. Gradient rules are written with the same traced ops, so the
 * backward graph is ONNX too (ONNX Runtime's npm build has no training kernels).
 */
import {
  broadcastShapes,
  type Dim,
  dimEqual,
  fmt,
  isStatic,
  resolveReshape,
  type Shape,
  ShapeError,
  sizeOf,
} from "./shape.js";
import {
  type Attrs,
  apply,
  concat,
  type DType,
  type Lowering,
  type Node,
  type OpDef,
  type OutSpec,
  registry,
  scalar,
  type Tensor,
  where,
} from "./tensor.js";

const FLOAT: readonly DType[] = ["float32", "float64"];
const isFloat = (t: Tensor): boolean => FLOAT.includes(t.dtype);
const inp = (node: Node, i: number): Tensor => node.inputs[i] as Tensor;
const out = (node: Node, i = 0): Tensor => node.outputs[i] as Tensor;

function def(name: string, d: OpDef): void {
  registry.set(name, d);
}

// ---------------------------------------------------------------------------------------------------------
// Helpers used by several rules.

/** Sum a broadcast gradient back down to the shape of the input it flowed from. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? g.sum(axes, true) : g;
  return summed.rank === shape.length && summed.shape.every((d, i) => dimEqual(d, shape[i] as Dim))
    ? summed
    : summed.reshape(shape);
}

/** The shape a reduction keeps when keepdims is on. */
const keptShape = (shape: Shape, axes: readonly number[]): Dim[] =>
  shape.map((d, i) => (axes.includes(i) ? 1 : d));

function sameDtype(op: string, ts: readonly Tensor[]): DType {
  const d = (ts[0] as Tensor).dtype;
  for (const t of ts) {
    if (t.dtype !== d) throw new ShapeError(`${op}: dtypes differ (${ts.map((x) => x.dtype).join(" vs ")})`);
  }
  return d;
}

function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t)) throw new ShapeError(`${op}: expected a float tensor, got ${t.dtype}`);
}

/** Same shape and dtype as a float input. */
function floatLike(op: string, x: Tensor): OutSpec {
  requireFloat(op, x);
  return { shape: x.shape, dtype: x.dtype };
}

const int64s = (l: Lowering, values: readonly number[]): string =>
  l.constant(values, "int64", [values.length]);
const scalarConst = (l: Lowering, v: number, dtype: DType): string => l.constant([v], dtype, []);

// ---------------------------------------------------------------------------------------------------------
// Leaves. Their lowering is done by the compiler (graph inputs and initializers).

const leaf = (a: Attrs): OutSpec => ({ shape: a.shape as Shape, dtype: a.dtype as DType });
def("input", { infer: (_, a) => leaf(a), lower: () => {} });
def("constant", {
  infer: (_, a) => {
    const n = sizeOf(a.shape as Shape);
    const len = (a.data as ArrayLike<number>).length;
    if (len !== n) throw new ShapeError(`constant: ${len} values for shape ${fmt(a.shape as Shape)}`);
    return leaf(a);
  },
  lower: () => {},
});
def("random", { infer: (_, a) => leaf(a), lower: () => {} });

// ---------------------------------------------------------------------------------------------------------
// Elementwise binary ops with NumPy broadcasting.

function binary(
  name: string,
  onnx: string,
  grad?: (a: Tensor, b: Tensor, y: Tensor, g: Tensor) => [Tensor | undefined, Tensor | undefined],
  resultDtype?: DType,
): void {
  def(name, {
    infer: ([a, b]) => {
      const dtype = sameDtype(name, [a as Tensor, b as Tensor]);
      const shape = broadcastShapes((a as Tensor).shape, (b as Tensor).shape);
      if (!shape)
        throw new ShapeError(`${name}: shapes ${fmt(a!.shape)} and ${fmt(b!.shape)} do not broadcast`);
      return { shape, dtype: resultDtype ?? dtype };
    },
    lower: (l, n, [y]) => l.emit(onnx, [l.name(inp(n, 0)), l.name(inp(n, 1))], [y as string]),
    grad:
      grad &&
      ((n, [g]) => {
        if (!g) return [];
        const a = inp(n, 0);
        const b = inp(n, 1);
        const [ga, gb] = grad(a, b, out(n), g);
        return [ga && unbroadcast(ga, a.shape), gb && unbroadcast(gb, b.shape)];
      }),
  });
}

/** Gradient of max/min: goes to the chosen input, split evenly on ties (as PyTorch does). */
const pickGrad = (first: Tensor, g: Tensor, a: Tensor, b: Tensor): Tensor =>
  where(first, g, where(a.eq(b), g.mul(0.5), 0));

binary("add", "Add", (_a, _b, _y, g) => [g, g]);
binary("sub", "Sub", (_a, _b, _y, g) => [g, g.neg()]);
binary("mul", "Mul", (a, b, _y, g) => [g.mul(b), g.mul(a)]);
binary("div", "Div", (_a, b, y, g) => [g.div(b), g.mul(y).div(b).neg()]);
binary("pow", "Pow", (a, b, y, g) => [g.mul(b).mul(a.pow(b.sub(1))), g.mul(y).mul(a.log())]);
binary("maximum", "Max", (a, b, _y, g) => [pickGrad(a.gt(b), g, a, b), pickGrad(b.gt(a), g, a, b)]);
binary("minimum", "Min", (a, b, _y, g) => [pickGrad(a.lt(b), g, a, b), pickGrad(b.lt(a), g, a, b)]);
binary("less", "Less", undefined, "bool");
binary("greater", "Greater", undefined, "bool");
binary("equal", "Equal", undefined, "bool");
binary("lessOrEqual", "LessOrEqual", undefined, "bool");
binary("greaterOrEqual", "GreaterOrEqual", undefined, "bool");
binary("and", "And", undefined, "bool");
binary("or", "Or", undefined, "bool");

// ---------------------------------------------------------------------------------------------------------
// Elementwise unary ops.

function unary(
  name: string,
  lower: string | ((l: Lowering, x: string, y: string, a: Attrs, dtype: DType) => void),
  grad?: (x: Tensor, y: Tensor, g: Tensor, a: Attrs) => Tensor | undefined,
  opts: { float?: boolean; dtype?: (x: Tensor, a: Attrs) => DType } = {},
): void {
  def(name, {
    infer: ([x], a) => {
      if (opts.float !== false) requireFloat(name, x as Tensor);
      return {
        shape: (x as Tensor).shape,
        dtype: opts.dtype ? opts.dtype(x as Tensor, a) : (x as Tensor).dtype,
      };
    },
    lower: (l, n, [y]) => {
      const x = l.name(inp(n, 0));
      if (typeof lower === "string") l.emit(lower, [x], [y as string]);
      else lower(l, x, y as string, n.attrs, inp(n, 0).dtype);
    },
    grad: grad && ((n, [g]) => [g && grad(inp(n, 0), out(n), g, n.attrs)]),
  });
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const LN_INV_SQRT_PI = -0.5 * Math.log(Math.PI);

unary("neg", "Neg", (_x, _y, g) => g.neg());
unary("exp", "Exp", (_x, y, g) => g.mul(y));
unary("log", "Log", (x, _y, g) => g.div(x));
unary("sqrt", "Sqrt", (_x, y, g) => g.mul(0.5).div(y));
unary("reciprocal", "Reciprocal", (_x, y, g) => g.mul(y.square()).neg());
unary("tanh", "Tanh", (_x, y, g) => g.mul(y.square().neg().add(1)));
unary("erf", "Erf", (x, _y, g) =>
  g.mul(
    x
      .square()
      .neg()
      .exp()
      .mul(2 / Math.sqrt(Math.PI)),
  ),
);
unary("abs", "Abs", (x, _y, g) => where(x.gt(0), g, where(x.lt(0), g.neg(), 0)));
unary("relu", "Relu", (x, _y, g) => where(x.gt(0), g, 0));
unary("sigmoid", "Sigmoid", (_x, y, g) => g.mul(y).mul(y.neg().add(1)));
unary(
  "hardSigmoid",
  (l, x, y, a, dt) => {
    const [alpha, beta] = [a.alpha as number, a.beta as number];
    if (dt === "float32") return l.emit("HardSigmoid", [x], [y], { alpha: { f: alpha }, beta: { f: beta } });
    // ONNX Runtime's HardSigmoid is float32 only.
    const [ax, axb] = [l.tmp(), l.tmp()];
    l.emit("Mul", [x, scalarConst(l, alpha, dt)], [ax]);
    l.emit("Add", [ax, scalarConst(l, beta, dt)], [axb]);
    l.emit("Clip", [axb, scalarConst(l, 0, dt), scalarConst(l, 1, dt)], [y]);
  },
  (_x, y, g, a) => where(y.gt(0).and(y.lt(1)), g.mul(a.alpha as number), 0),
);

unary(
  "gelu",
  (l, x, y, a, dt) => {
    const tanh = a.approximate === "tanh";
    if (l.contrib && dt === "float32")
      return l.emit(tanh ? "FastGelu" : "Gelu", [x], [y], {}, "com.microsoft");
    const half = scalarConst(l, 0.5, dt);
    const one = scalarConst(l, 1, dt);
    const inner = l.tmp();
    if (tanh) {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const [x2, x3, k, s, u, t] = [l.tmp(), l.tmp(), l.tmp(), l.tmp(), l.tmp(), l.tmp()];
      l.emit("Mul", [x, x], [x2]);
      l.emit("Mul", [x2, x], [x3]);
      l.emit("Mul", [x3, scalarConst(l, 0.044715, dt)], [k]);
      l.emit("Add", [x, k], [s]);
      l.emit("Mul", [s, scalarConst(l, SQRT_2_OVER_PI, dt)], [u]);
      l.emit("Tanh", [u], [t]);
      l.emit("Add", [t, one], [inner]);
    } else {
      // 0.5·x·(1 + erf(x/√2)): the pattern ONNX Runtime fuses into one Gelu kernel.
      const [d, e] = [l.tmp(), l.tmp()];
      l.emit("Div", [x, scalarConst(l, Math.SQRT2, dt)], [d]);
      l.emit("Erf", [d], [e]);
      l.emit("Add", [e, one], [inner]);
    }
    const xi = l.tmp();
    l.emit("Mul", [x, inner], [xi]);
    l.emit("Mul", [xi, half], [y]);
  },
  (x, _y, g, a) => {
    if (a.approximate === "tanh") {
      const u = x.add(x.pow(3).mul(0.044715)).mul(SQRT_2_OVER_PI);
      const t = u.tanh();
      const du = x
        .square()
        .mul(3 * 0.044715)
        .add(1)
        .mul(SQRT_2_OVER_PI);
      return g.mul(
        t
          .add(1)
          .mul(0.5)
          .add(x.mul(0.5).mul(t.square().neg().add(1)).mul(du)),
      );
    }
    // d/dx x·Φ(x) = Φ(x) + x·φ(x), written for few passes over the (large) activation: with s = x/√2,
    // Φ(x) = ½·erf(s) + ½ (a HardSigmoid whose clamp never binds) and x·φ(x) = s·exp(ln(1/√π) − s²).
    // Nine element-wise passes instead of eleven.
    const s = x.mul(Math.SQRT1_2);
    const cdf = s.erf().hardSigmoid(0.5, 0.5);
    const xPdf = s.mul(scalar(LN_INV_SQRT_PI, x.dtype).sub(s.square()).exp());
    return g.mul(cdf.add(xPdf));
  },
);

unary(
  "quickGelu",
  (l, x, y, _a, dt) => {
    if (l.contrib && dt === "float32")
      return l.emit("QuickGelu", [x], [y], { alpha: { f: 1.702 } }, "com.microsoft");
    const [s, z] = [l.tmp(), l.tmp()];
    l.emit("Mul", [x, scalarConst(l, 1.702, dt)], [z]);
    l.emit("Sigmoid", [z], [s]);
    l.emit("Mul", [x, s], [y]);
  },
  (x, _y, g) => {
    const s = x.mul(1.702).sigmoid();
    return g.mul(s.add(x.mul(1.702).mul(s).mul(s.neg().add(1))));
  },
);

unary(
  "clip",
  (l, x, y, a, dt) => {
    const lo = a.min === undefined ? "" : scalarConst(l, a.min as number, dt);
    const hi = a.max === undefined ? "" : scalarConst(l, a.max as number, dt);
    l.emit("Clip", [x, lo, hi], [y]);
  },
  (x, _y, g, a) => {
    let inside: Tensor | undefined;
    if (a.min !== undefined) inside = x.ge(a.min as number);
    if (a.max !== undefined) inside = inside ? inside.and(x.le(a.max as number)) : x.le(a.max as number);
    return inside ? where(inside, g, 0) : g;
  },
);

unary(
  "cast",
  (l, x, y, a) => l.emit("Cast", [x], [y], { to: ONNX_CODE[a.dtype as DType] }),
  (x, _y, g) => (isFloat(x) ? g.cast(x.dtype) : undefined),
  { float: false, dtype: (_x, a) => a.dtype as DType },
);
unary("stopGradient", "Identity", () => undefined, { float: false });
unary("not", "Not", undefined, { float: false });

const ONNX_CODE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

def("where", {
  infer: ([c, a, b]) => {
    if (c!.dtype !== "bool") throw new ShapeError(`where: condition must be bool, got ${c!.dtype}`);
    const dtype = sameDtype("where", [a!, b!]);
    const ab = broadcastShapes(a!.shape, b!.shape);
    const shape = ab && broadcastShapes(c!.shape, ab);
    if (!shape)
      throw new ShapeError(
        `where: shapes ${fmt(c!.shape)}, ${fmt(a!.shape)}, ${fmt(b!.shape)} do not broadcast`,
      );
    return { shape, dtype };
  },
  lower: (l, n, [y]) =>
    l.emit(
      "Where",
      n.inputs.map((t) => l.name(t)),
      [y as string],
    ),
  grad: (n, [g]) => {
    if (!g) return [];
    const [c, a, b] = n.inputs as Tensor[];
    return [undefined, unbroadcast(where(c!, g, 0), a!.shape), unbroadcast(where(c!, 0, g), b!.shape)];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Matrix product.

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

/** Gradient for a rank-2 operand used against a batched one: flatten the batch instead of summing after. */
const flat2d = (t: Tensor): Tensor => t.reshape([-1, t.shape[t.rank - 1] as Dim]);

/** Lowering of a batched operand as one 2-D matrix of rows ([..., K] → [rows, K]); rank 2 as it is. */
function rowsOf(l: Lowering, t: Tensor): string {
  const name = l.name(t);
  if (t.rank === 2) return name;
  const flat = l.tmp("flat");
  l.emit("Reshape", [name, int64s(l, [-1, t.shape[t.rank - 1] as number])], [flat]);
  return flat;
}

/** Reshape to `shape`, literal where at most one dim is symbolic (as -1): ONNX Runtime's optimizer sees it. */
function reshapeTo(l: Lowering, name: string, shape: readonly Dim[], y: string): void {
  const literal = shape.map((d) => (typeof d === "number" ? d : -1));
  const spec = literal.filter((d) => d === -1).length <= 1 ? int64s(l, literal) : l.dims(shape);
  l.emit("Reshape", [name, spec], [y]);
}

/**
 * Whether a · op(b) (b a 2-D weight) is a tall product that MLAS runs faster transposed: many rows (≥ 8192,
 * static), N ≤ 1024, and reduction and output widths three or more times apart, as the gradients flowing
 * into a ViT's MLP and q/k/v inputs at batch 128. Computed as yᵀ = op(b)ᵀ·aᵀ plus one transpose of y, these
 * ran at 168-182 GFLOP/s instead of 105-160 ([8320, 1024]·[1024, 256], [8320, 768]·[768, 256],
 * [8320, 2048]·[2048, 512], [8320, 256]·[256, 1024], [8320, 256]·[256, 768]; interleaved A/B in one
 * process, 2 cores), transposes included. With 4096 rows (the text tower), a large matrix of similar sides
 * (K = 256, N = 256; K = 192, N = 256) or N = 768 with K = 3072, it measured no gain or a loss.
 */
function tallUnbalanced(a: Tensor, b: Tensor, transB: boolean): boolean {
  if (b.rank !== 2 || !isStatic(a.shape)) return false;
  const k = a.shape[a.rank - 1] as number;
  const n = (transB ? b.shape[0] : b.shape[1]) as number;
  const rows = sizeOf(a.shape) / k;
  return rows >= 8192 && n <= 1024 && (k >= 3 * n || n >= 3 * k);
}

def("matmul", {
  infer: ([a, b], at) => {
    requireFloat("matmul", a!);
    return { shape: matmulShape(a!, b!, !!at.transA, !!at.transB), dtype: sameDtype("matmul", [a!, b!]) };
  },
  lower: (l, n, [y]) => {
    const [a, b] = [l.name(inp(n, 0)), l.name(inp(n, 1))];
    const { transA, transB, alpha } = n.attrs as { transA: boolean; transB: boolean; alpha: number };
    const dt = inp(n, 0).dtype;
    if (l.contrib && dt === "float32" && !transA && tallUnbalanced(inp(n, 0), inp(n, 1), transB)) {
      // yᵀ = op(b)ᵀ·aᵀ, then one transpose of the result: see tallUnbalanced.
      const flat = inp(n, 0).rank === 2;
      const [yt, y2] = [l.tmp("yt"), flat ? (y as string) : l.tmp("y2")];
      const attrs = { transA: transB ? 0 : 1, transB: 1, alpha: { f: alpha } };
      l.emit("FusedMatMul", [b, rowsOf(l, inp(n, 0))], [yt], attrs, "com.microsoft");
      l.emit("Transpose", [yt], [y2], { perm: [1, 0] });
      if (!flat) reshapeTo(l, y2, out(n).shape, y as string);
      return;
    }
    if ((transA || transB || alpha !== 1) && l.contrib && dt === "float32") {
      const attrs = { transA: +transA, transB: +transB, alpha: { f: alpha } };
      return l.emit("FusedMatMul", [a, b], [y as string], attrs, "com.microsoft");
    }
    const swap = (name: string, t: Tensor): string => {
      const perm = [...t.shape.keys()];
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm.length - 1, perm.length - 2];
      const s = l.tmp();
      l.emit("Transpose", [name], [s], { perm });
      return s;
    };
    const ins = [transA ? swap(a, inp(n, 0)) : a, transB ? swap(b, inp(n, 1)) : b];
    if (alpha === 1) return l.emit("MatMul", ins, [y as string]);
    const p = l.tmp();
    l.emit("MatMul", ins, [p]);
    l.emit("Mul", [p, scalarConst(l, alpha, dt)], [y as string]);
  },
  grad: (n, [g]) => {
    if (!g) return [];
    const [a, b] = [inp(n, 0), inp(n, 1)];
    const { transA, transB, alpha } = n.attrs as { transA: boolean; transB: boolean; alpha: number };
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
 * that the bias is added inside the product (a separate broadcast Add is a full extra pass over y).
 */
def("linear", {
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
    const [wName, bName] = n.inputs.slice(1).map((t) => l.name(t as Tensor));
    const k = x.shape[x.rank - 1] as number;
    const outFeatures = inp(n, 1).shape[0] as number;
    // A 4×-expanding layer (an MLP's up-projection) adds its bias in a separate Add: MLAS's Gemm runs ~20 %
    // faster without a bias to broadcast into a wide output, more than the Add costs (measured: CLIP image
    // tower 554 → 511 ms per 128 images, training step ~3 %). Elsewhere the bias stays inside the Gemm.
    const biasApart = bName !== undefined && outFeatures >= 4 * k;
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
    const [x, w, b] = [inp(n, 0), inp(n, 1), n.inputs[2] as Tensor | undefined];
    const gx = g.matmul(w);
    // dW = gᵀ·x, [out, in]. MLAS runs this product ~12 % faster when its output has more rows than
    // columns, so a narrowing layer (out < in) computes xᵀ·g and transposes the small result.
    const [outF, inF] = w.shape as [number, number];
    const gw =
      outF < inF
        ? flat2d(x).matmul(flat2d(g), { transA: true }).transpose([1, 0])
        : flat2d(g).matmul(flat2d(x), { transA: true });
    const gb = b && g.sum([...Array(g.rank - 1).keys()]);
    return b ? [gx, gw, gb] : [gx, gw];
  },
});

/**
 * Inference-only multi-head self-attention with a packed q/k/v projection (w [3D, D], b [3D], as PyTorch's
 * in_proj): ONNX Runtime's contrib Attention kernel when contrib ops are allowed (one op instead of three
 * projections, head transposes, two batched products and a softmax), else the same computation in standard
 * ONNX ops (for exported graphs). Training uses the composite in nn/attention.ts, which has gradients.
 */
def("attention", {
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
    if (d % (a.heads as number) !== 0)
      throw new ShapeError(`attention: width ${d} is not divisible by ${a.heads} heads`);
    return { shape: x!.shape, dtype: x!.dtype };
  },
  lower: (l, n, [y]) => {
    const [x, w, b] = n.inputs as Tensor[];
    const heads = n.attrs.heads as number;
    const causal = !!n.attrs.causal;
    const d = x!.shape[2] as number;
    const dh = d / heads;
    const dt = x!.dtype;
    const wT = l.tmp("wT");
    l.emit("Transpose", [l.name(w!)], [wT], { perm: [1, 0] });
    if (l.contrib && dt === "float32")
      return l.emit(
        "Attention",
        [l.name(x!), wT, l.name(b!)],
        [y as string],
        { num_heads: heads, unidirectional: +causal },
        "com.microsoft",
      );
    const t = x!.shape[1] as number;
    const [proj, qkv, heads5] = [l.tmp("qkv"), l.tmp("qkv"), l.tmp("qkv")];
    const mm = l.tmp("qkv");
    l.emit("MatMul", [l.name(x!), wT], [mm]);
    l.emit("Add", [mm, l.name(b!)], [proj]);
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
  grad: () => {
    throw new Error("attention: this op has no gradient; modules use it in eval mode only");
  },
});

// ---------------------------------------------------------------------------------------------------------
// Reductions.

/**
 * A float32 sum over the leading axes (bias and LayerNorm-gain gradients: [B, T, D] → [D]) as a product with
 * a row of ones. ONNX Runtime's ReduceSum over leading axes runs at ~3 GB/s (6.8 ms for [8320, 256]); MLAS's
 * MatMul does the same sum in 0.2 ms. Sums over trailing axes are fast as ReduceSum and stay so.
 */
function sumLeadingAsMatMul(l: Lowering, x: Tensor, y: Tensor, axes: number[], name: string): boolean {
  const sorted = [...axes].sort((a, b) => a - b);
  if (x.dtype !== "float32" || !isStatic(x.shape) || !isStatic(y.shape)) return false;
  if (!sorted.every((a, i) => a === i) || sorted.length === x.rank) return false;
  const m = sizeOf(x.shape.slice(0, sorted.length));
  const rest = sizeOf(x.shape.slice(sorted.length));
  if (m < 64) return false;
  const flat = l.tmp("flat");
  l.emit("Reshape", [l.name(x), int64s(l, [m, rest])], [flat]);
  const ones = l.constant(new Float32Array(m).fill(1), "float32", [1, m]);
  const row = l.tmp("sum");
  l.emit("MatMul", [ones, flat], [row]);
  l.emit("Reshape", [row, int64s(l, y.shape as number[])], [name]);
  return true;
}

function reduction(name: string, grad: (x: Tensor, y: Tensor, g: Tensor, axes: number[]) => Tensor): void {
  def(name, {
    infer: ([x], a) => {
      requireFloat(name, x!);
      const axes = a.axes as number[];
      const shape = a.keepdims ? keptShape(x!.shape, axes) : x!.shape.filter((_, i) => !axes.includes(i));
      return { shape, dtype: x!.dtype };
    },
    lower: (l, n, [y]) => {
      const axes = n.attrs.axes as number[];
      const x = l.name(inp(n, 0));
      if (axes.length === 0) return l.emit("Identity", [x], [y as string]);
      const keepdims = n.attrs.keepdims ? 1 : 0;
      if (name === "sum" && sumLeadingAsMatMul(l, inp(n, 0), out(n), axes, y as string)) return;
      if (name === "sum") l.emit("ReduceSum", [x, int64s(l, axes)], [y as string], { keepdims });
      else l.emit(name === "mean" ? "ReduceMean" : "ReduceMax", [x], [y as string], { axes, keepdims });
    },
    grad: (n, [g]) => {
      if (!g) return [];
      const x = inp(n, 0);
      const axes = n.attrs.axes as number[];
      const kept = keptShape(x.shape, axes);
      const gk = n.attrs.keepdims ? g : g.reshape(kept);
      const yk = n.attrs.keepdims ? out(n) : out(n).reshape(kept);
      return [grad(x, yk, gk, axes)];
    },
  });
}

const count = (x: Tensor, axes: number[]): number => sizeOf(axes.map((i) => x.shape[i] as Dim));
reduction("sum", (x, _y, g) => g.expand(x.shape));
reduction("mean", (x, _y, g, axes) => g.mul(1 / count(x, axes)).expand(x.shape));
reduction("max", (x, y, g, axes) => {
  const hit = x.eq(y).cast(x.dtype);
  return hit.mul(g.div(hit.sum(axes, true)));
});

def("argmax", {
  infer: ([x], a) => {
    const axis = a.axis as number;
    const shape = a.keepdims ? keptShape(x!.shape, [axis]) : x!.shape.filter((_, i) => i !== axis);
    return { shape, dtype: "int64" };
  },
  lower: (l, n, [y]) =>
    l.emit("ArgMax", [l.name(inp(n, 0))], [y as string], {
      axis: n.attrs.axis as number,
      keepdims: n.attrs.keepdims ? 1 : 0,
    }),
});

def("softmax", {
  infer: ([x]) => floatLike("softmax", x!),
  lower: (l, n, [y]) =>
    l.emit("Softmax", [l.name(inp(n, 0))], [y as string], { axis: n.attrs.axis as number }),
  grad: (n, [g]) => {
    if (!g) return [];
    const y = out(n);
    const axis = n.attrs.axis as number;
    return [y.mul(g.sub(g.mul(y).sum(axis, true)))];
  },
});

def("logSoftmax", {
  infer: ([x]) => floatLike("logSoftmax", x!),
  lower: (l, n, [y]) =>
    l.emit("LogSoftmax", [l.name(inp(n, 0))], [y as string], { axis: n.attrs.axis as number }),
  grad: (n, [g]) => {
    if (!g) return [];
    const axis = n.attrs.axis as number;
    return [g.sub(out(n).exp().mul(g.sum(axis, true)))];
  },
});

// ---------------------------------------------------------------------------------------------------------
// Shape ops.

def("reshape", {
  infer: ([x], a) => ({ shape: resolveReshape(x!.shape, a.shape as Dim[]), dtype: x!.dtype }),
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

def("transpose", {
  infer: ([x], a) => {
    const perm = a.perm as number[];
    const ok = perm.length === x!.rank && [...perm].sort((p, q) => p - q).every((p, i) => p === i);
    if (!ok)
      throw new ShapeError(
        `transpose: [${perm}] is not a permutation of the ${x!.rank} axes of ${fmt(x!.shape)}`,
      );
    return { shape: perm.map((p) => x!.shape[p] as Dim), dtype: x!.dtype };
  },
  lower: (l, n, [y]) =>
    l.emit("Transpose", [l.name(inp(n, 0))], [y as string], { perm: n.attrs.perm as number[] }),
  grad: (n, [g]) => {
    const perm = n.attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [g?.transpose(inverse)];
  },
});

def("expand", {
  infer: ([x], a) => {
    const shape = broadcastShapes(x!.shape, a.shape as Dim[]);
    if (
      !shape ||
      shape.length !== (a.shape as Dim[]).length ||
      !shape.every((d, i) => dimEqual(d, (a.shape as Dim[])[i]!))
    )
      throw new ShapeError(`expand: ${fmt(x!.shape)} cannot broadcast to ${fmt(a.shape as Dim[])}`);
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

def("slice", {
  infer: ([x], a) => {
    const { axis, start, end } = a as { axis: number; start: number; end: number };
    const len = x!.shape[axis];
    if (typeof len !== "number") throw new ShapeError(`slice: axis ${axis} of ${fmt(x!.shape)} is symbolic`);
    if (!(0 <= start && start < end && end <= len)) {
      throw new ShapeError(`slice: range [${start}, ${end}) is not inside axis ${axis} of ${fmt(x!.shape)}`);
    }
    return { shape: x!.shape.map((d, i) => (i === axis ? end - start : d)), dtype: x!.dtype };
  },
  lower: (l, n, [y]) => {
    const { axis, start, end } = n.attrs as { axis: number; start: number; end: number };
    l.emit(
      "Slice",
      [l.name(inp(n, 0)), int64s(l, [start]), int64s(l, [end]), int64s(l, [axis])],
      [y as string],
    );
  },
  grad: (n, [g]) => {
    if (!g) return [];
    const { axis, start, end } = n.attrs as { axis: number; start: number; end: number };
    const len = inp(n, 0).shape[axis] as number;
    return [apply("pad", [g], { axis, before: start, after: len - end })];
  },
});

/** Zero padding along one axis (the gradient of slice). */
def("pad", {
  infer: ([x], a) => {
    const { axis, before, after } = a as { axis: number; before: number; after: number };
    return {
      shape: x!.shape.map((d, i) => (i === axis ? (d as number) + before + after : d)),
      dtype: x!.dtype,
    };
  },
  lower: (l, n, [y]) => {
    const { axis, before, after } = n.attrs as { axis: number; before: number; after: number };
    const r = inp(n, 0).rank;
    const pads = new Array(2 * r).fill(0);
    pads[axis] = before;
    pads[r + axis] = after;
    l.emit("Pad", [l.name(inp(n, 0)), int64s(l, pads)], [y as string], { mode: "constant" });
  },
  grad: (n, [g]) => {
    const { axis, before } = n.attrs as { axis: number; before: number };
    return [g?.slice(axis, before, before + (inp(n, 0).shape[axis] as number))];
  },
});

def("concat", {
  infer: (xs, a) => {
    const axis = a.axis as number;
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
      { axis: n.attrs.axis as number },
    ),
  grad: (n, [g]) => {
    if (!g) return [];
    const axis = n.attrs.axis as number;
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
def("split", {
  infer: ([x], a) => {
    const { axis, parts } = a as { axis: number; parts: number };
    const len = x!.shape[axis];
    if (typeof len !== "number" || len % parts !== 0)
      throw new ShapeError(
        `split: axis ${axis} of ${fmt(x!.shape)} does not divide into ${parts} equal parts`,
      );
    const shape = x!.shape.map((d, i) => (i === axis ? len / parts : d));
    return Array.from({ length: parts }, () => ({ shape, dtype: x!.dtype }));
  },
  lower: (l, n, ys) => l.emit("Split", [l.name(inp(n, 0))], ys, { axis: n.attrs.axis as number }),
  grad: (n, gs) => {
    if (gs.every((g) => !g)) return [];
    // A part without gradient contributes zeros (a rare case: all parts are usually used).
    const parts = gs.map((g, i) => g ?? (n.outputs[i] as Tensor).detach().mul(0));
    return [concat(parts, n.attrs.axis as number)];
  },
});

def("gather", {
  infer: ([x, idx]) => {
    if (idx!.dtype !== "int64" && idx!.dtype !== "int32")
      throw new ShapeError(`gather: indices must be int32/int64, got ${idx!.dtype}`);
    return { shape: [...idx!.shape, ...x!.shape.slice(1)], dtype: x!.dtype };
  },
  lower: (l, n, [y]) => l.emit("Gather", [l.name(inp(n, 0)), l.name(inp(n, 1))], [y as string], { axis: 0 }),
  grad: (n, [g]) => [g && apply("scatterAdd", [g, inp(n, 1)], { rows: inp(n, 0).shape[0] }), undefined],
});

/** Sum rows of `updates` into a zero tensor at `indices` (the gradient of gather). */
def("scatterAdd", {
  infer: ([u, idx], a) => ({ shape: [a.rows as Dim, ...u!.shape.slice(idx!.rank)], dtype: u!.dtype }),
  lower: (l, n, [y]) => {
    const [u, idx] = [inp(n, 0), inp(n, 1)];
    const rows = n.attrs.rows as number;
    const tail = u.shape.slice(idx.rank) as number[];
    const zeros = l.tmp("zeros");
    l.emit("ConstantOfShape", [int64s(l, [rows, ...tail])], [zeros], {
      value: {
        tensor: {
          dtype: u.dtype,
          dims: [1],
          data: u.dtype === "float64" ? new Float64Array(1) : new Float32Array(1),
        },
      },
    });
    let index = l.name(idx);
    if (idx.dtype !== "int64") {
      const cast = l.tmp();
      l.emit("Cast", [index], [cast], { to: ONNX_CODE.int64 });
      index = cast;
    }
    const ix = l.tmp();
    l.emit("Unsqueeze", [index, int64s(l, [-1])], [ix]);
    l.emit("ScatterND", [zeros, ix, l.name(u)], [y as string], { reduction: "add" });
  },
  grad: (n, [g]) => [g?.gather(inp(n, 1)), undefined],
});

// ---------------------------------------------------------------------------------------------------------
// Neural-network ops with their own kernels.

/** LayerNormalization over the last axis; outputs y, mean and 1/std (the last two feed the gradient). */
def("layerNorm", {
  infer: ([x, w, b], a) => {
    requireFloat("layerNorm", x!);
    const c = x!.shape[x!.rank - 1] as Dim;
    for (const p of [w, b]) {
      if (p && (p.rank !== 1 || !dimEqual(p.shape[0] as Dim, c))) {
        throw new ShapeError(
          `layerNorm: gain/bias ${fmt(p.shape)} must be [${c}] for input ${fmt(x!.shape)}`,
        );
      }
    }
    void a;
    const stat = { shape: [...x!.shape.slice(0, -1), 1], dtype: x!.dtype };
    return [{ shape: x!.shape, dtype: x!.dtype }, stat, stat];
  },
  lower: (l, n, outs) => {
    const ins = n.inputs.map((t) => l.name(t));
    const eps = n.attrs.eps as number;
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
    const [x, w, b] = n.inputs as Tensor[];
    const [mean, invStd] = [out(n, 1), out(n, 2)];
    const lead = [...Array(x!.rank - 1).keys()];
    const xhat = x!.sub(mean).mul(invStd);
    const dxhat = g.mul(w!);
    // dx = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))
    const dx = dxhat
      .sub(dxhat.mean(-1, true))
      .sub(xhat.mul(dxhat.mul(xhat).mean(-1, true)))
      .mul(invStd);
    return [dx, g.mul(xhat).sum(lead), b ? g.sum(lead) : undefined];
  },
});

interface ConvAttrs {
  stride: number;
  padding: number;
  dilation: number;
}

const convOut = (size: number, k: number, a: ConvAttrs): number =>
  Math.floor((size + 2 * a.padding - a.dilation * (k - 1) - 1) / a.stride) + 1;

def("conv2d", {
  infer: ([x, w], at) => {
    const a = at as unknown as ConvAttrs;
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
  lower: (l, n, [y]) => {
    const a = n.attrs as unknown as ConvAttrs;
    l.emit("Conv", [l.name(inp(n, 0)), l.name(inp(n, 1))], [y as string], convAttrs(a));
  },
  grad: (n, [g]) => {
    if (!g) return [];
    const [x, w] = [inp(n, 0), inp(n, 1)];
    return [
      apply("convInputGrad", [g, w], { ...n.attrs, inputShape: x.shape }),
      apply("convWeightGrad", [x, g], { ...n.attrs, weightShape: w.shape }),
    ];
  },
});

const convAttrs = (a: ConvAttrs) => ({
  strides: [a.stride, a.stride],
  pads: [a.padding, a.padding, a.padding, a.padding],
  dilations: [a.dilation, a.dilation],
});

/** ∂conv/∂x: a transposed convolution of the output gradient with the same weights. */
def("convInputGrad", {
  infer: ([g], a) => ({ shape: a.inputShape as Shape, dtype: g!.dtype }),
  lower: (l, n, [y]) => {
    const a = n.attrs as unknown as ConvAttrs & { inputShape: number[] };
    const [g, w] = [inp(n, 0), inp(n, 1)];
    const pad = (size: number, ho: number, k: number) =>
      size - ((ho - 1) * a.stride - 2 * a.padding + a.dilation * (k - 1) + 1);
    const outputPadding = [
      pad(a.inputShape[2]!, g.shape[2] as number, w.shape[2] as number),
      pad(a.inputShape[3]!, g.shape[3] as number, w.shape[3] as number),
    ];
    l.emit("ConvTranspose", [l.name(g), l.name(w)], [y as string], {
      ...convAttrs(a),
      output_padding: outputPadding,
    });
  },
});

/**
 * ∂conv/∂w as a convolution: treat channels as the batch and the batch as channels, so that the output
 * gradient becomes the kernel (stride and dilation swap roles), then crop to the kernel size.
 */
def("convWeightGrad", {
  infer: ([x], a) => ({ shape: a.weightShape as Shape, dtype: x!.dtype }),
  lower: (l, n, [y]) => {
    const a = n.attrs as unknown as ConvAttrs & { weightShape: number[] };
    const [x, g] = [inp(n, 0), inp(n, 1)];
    const [xt, gt, r, crop] = [l.tmp(), l.tmp(), l.tmp(), l.tmp()];
    l.emit("Transpose", [l.name(x)], [xt], { perm: [1, 0, 2, 3] });
    l.emit("Transpose", [l.name(g)], [gt], { perm: [1, 0, 2, 3] });
    l.emit("Conv", [xt, gt], [r], {
      strides: [a.dilation, a.dilation],
      pads: [a.padding, a.padding, a.padding, a.padding],
      dilations: [a.stride, a.stride],
    });
    const [kh, kw] = [a.weightShape[2]!, a.weightShape[3]!];
    l.emit("Slice", [r, int64s(l, [0, 0]), int64s(l, [kh, kw]), int64s(l, [2, 3])], [crop]);
    l.emit("Transpose", [crop], [y as string], { perm: [1, 0, 2, 3] });
  },
});
