/**
 * Traced tensors. Model code calls ops on symbolic tensors; each call checks shapes (raising a ShapeError
 * that names the op, the shapes and the caller's line) and records a node. Nothing is computed here:
 * `compile` lowers the recorded graph to ONNX and ONNX Runtime runs it.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { DType, TypedArray } from "./dtype.js";
import { type NoAttrs, type OpAttrs, type OpName, type OutSpec, opDef } from "./op.js";
import { type Dim, fmt, normAxis, type Shape, ShapeError } from "./shape.js";

export type { DType, TypedArray } from "./dtype.js";

/** Frames from the engine's own folder are skipped when naming the caller of an op. */
const ENGINE_URL = new URL(".", import.meta.url).href;
const ENGINE_DIR = dirname(fileURLToPath(import.meta.url));

/** One recorded op application. `outputs` are its result tensors (most ops have one). */
export class Node<K extends OpName = OpName> {
  outputs: Tensor[] = [];
  constructor(
    readonly op: K,
    readonly inputs: readonly Tensor[],
    readonly attrs: OpAttrs[K],
    /** Captured at creation; formatted only when an error needs the caller's line. */
    private readonly trace: Error,
  ) {}

  /** Whether this node applies `op` (narrows `attrs` to that op's attributes). */
  is<O extends OpName>(op: O): this is Node<O> {
    return (this.op as OpName) === op;
  }

  /** Where the user's code called the op. */
  get site(): string {
    return userFrame(this.trace);
  }
}

/** The first stack frame outside the engine. */
function userFrame(trace: Error): string {
  const lines = (trace.stack ?? "").split("\n").slice(1);
  const user = lines.find(
    (l) => !l.includes(ENGINE_DIR) && !l.includes(ENGINE_URL) && !l.includes("node:internal"),
  );
  return (user ?? lines[0] ?? "").trim().replace(/^at /, "");
}

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  constructor(
    readonly node: Node,
    readonly index: number,
    readonly shape: Shape,
    readonly dtype: DType,
  ) {}

  get op(): OpName {
    return this.node.op;
  }
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `Tensor(${this.op}, ${fmt(this.shape)}, ${this.dtype})`;
  }

  // Arithmetic (NumPy broadcasting; numbers become constants of this tensor's dtype).
  add(o: TensorLike): Tensor {
    return apply("add", [this, lift(o, this)]);
  }
  sub(o: TensorLike): Tensor {
    return apply("sub", [this, lift(o, this)]);
  }
  mul(o: TensorLike): Tensor {
    return apply("mul", [this, lift(o, this)]);
  }
  div(o: TensorLike): Tensor {
    return apply("div", [this, lift(o, this)]);
  }
  pow(o: TensorLike): Tensor {
    return apply("pow", [this, lift(o, this)]);
  }
  maximum(o: TensorLike): Tensor {
    return apply("maximum", [this, lift(o, this)]);
  }
  minimum(o: TensorLike): Tensor {
    return apply("minimum", [this, lift(o, this)]);
  }
  neg(): Tensor {
    return apply("neg", [this]);
  }
  square(): Tensor {
    return this.mul(this);
  }

  // Elementwise functions.
  exp(): Tensor {
    return apply("exp", [this]);
  }
  log(): Tensor {
    return apply("log", [this]);
  }
  sqrt(): Tensor {
    return apply("sqrt", [this]);
  }
  rsqrt(): Tensor {
    return apply("reciprocal", [apply("sqrt", [this])]);
  }
  reciprocal(): Tensor {
    return apply("reciprocal", [this]);
  }
  tanh(): Tensor {
    return apply("tanh", [this]);
  }
  erf(): Tensor {
    return apply("erf", [this]);
  }
  abs(): Tensor {
    return apply("abs", [this]);
  }
  relu(): Tensor {
    return apply("relu", [this]);
  }
  sigmoid(): Tensor {
    return apply("sigmoid", [this]);
  }
  /** max(0, min(1, alpha·x + beta)): an affine map and a clamp in one pass. */
  hardSigmoid(alpha = 1 / 6, beta = 0.5): Tensor {
    return apply("hardSigmoid", [this], { alpha, beta });
  }
  /** GELU; `approximate: "tanh"` for the tanh form. */
  gelu(approximate: "none" | "tanh" = "none"): Tensor {
    return apply("gelu", [this], { approximate });
  }
  /** x·σ(1.702x), OpenAI CLIP's activation. */
  quickGelu(): Tensor {
    return apply("quickGelu", [this]);
  }
  /** Clamp to [min, max]; gradient passes where min ≤ x ≤ max (as in PyTorch). */
  clip(min?: number, max?: number): Tensor {
    return apply("clip", [this], { min, max });
  }
  cast(dtype: DType): Tensor {
    return dtype === this.dtype ? this : apply("cast", [this], { dtype });
  }
  /** Identity whose gradient is zero (stop-gradient). */
  detach(): Tensor {
    return apply("stopGradient", [this]);
  }

  // Comparisons (boolean results, no gradient).
  lt(o: TensorLike): Tensor {
    return apply("less", [this, lift(o, this)]);
  }
  gt(o: TensorLike): Tensor {
    return apply("greater", [this, lift(o, this)]);
  }
  eq(o: TensorLike): Tensor {
    return apply("equal", [this, lift(o, this)]);
  }
  le(o: TensorLike): Tensor {
    return apply("lessOrEqual", [this, lift(o, this)]);
  }
  ge(o: TensorLike): Tensor {
    return apply("greaterOrEqual", [this, lift(o, this)]);
  }
  and(o: Tensor): Tensor {
    return apply("and", [this, o]);
  }
  or(o: Tensor): Tensor {
    return apply("or", [this, o]);
  }
  not(): Tensor {
    return apply("not", [this]);
  }

  // Linear algebra.
  /**
   * Batched matrix product with NumPy broadcasting of the batch dims; optional transposes of the last two
   * axes and a scale `alpha` (free with ONNX Runtime's FusedMatMul).
   */
  matmul(o: Tensor, opts: { transA?: boolean; transB?: boolean; alpha?: number } = {}): Tensor {
    return apply("matmul", [this, o], {
      transA: !!opts.transA,
      transB: !!opts.transB,
      alpha: opts.alpha ?? 1,
    });
  }

  /** A dense layer: this·Wᵀ (+ b), W stored [out, in] as PyTorch's Linear. */
  linear(weight: Tensor, bias?: Tensor): Tensor {
    return apply("linear", bias ? [this, weight, bias] : [this, weight]);
  }

  /**
   * Inference-only multi-head self-attention of this [B, T, D] with a packed q/k/v projection (w [3D, D],
   * b [3D]); the output projection is left to the caller. No gradient: for training use the composite.
   */
  attention(w: Tensor, b: Tensor, opts: { heads: number; causal?: boolean }): Tensor {
    return apply("attention", [this, w, b], { heads: opts.heads, causal: !!opts.causal });
  }

  /** `parts` equal pieces along `axis`. */
  split(axis: number, parts: number): Tensor[] {
    return applyMulti("split", [this], { axis: normAxis(axis, this.rank, "split"), parts });
  }

  /** Layer normalization over the last axis with gain and bias (ONNX LayerNormalization). */
  layerNorm(gain: Tensor, bias: Tensor, eps = 1e-5): Tensor {
    return apply("layerNorm", [this, gain, bias], { eps });
  }

  // Reductions.
  sum(axes?: number | number[], keepdims = false): Tensor {
    return apply("sum", [this], { axes: normAxes(axes, this.rank), keepdims });
  }
  mean(axes?: number | number[], keepdims = false): Tensor {
    return apply("mean", [this], { axes: normAxes(axes, this.rank), keepdims });
  }
  max(axes?: number | number[], keepdims = false): Tensor {
    return apply("max", [this], { axes: normAxes(axes, this.rank), keepdims });
  }
  argmax(axis: number, keepdims = false): Tensor {
    return apply("argmax", [this], { axis: normAxes(axis, this.rank)[0], keepdims });
  }
  softmax(axis = -1): Tensor {
    return apply("softmax", [this], { axis: normAxes(axis, this.rank)[0] });
  }
  logSoftmax(axis = -1): Tensor {
    return apply("logSoftmax", [this], { axis: normAxes(axis, this.rank)[0] });
  }

  // Shape.
  reshape(shape: readonly Dim[]): Tensor {
    return apply("reshape", [this], { shape });
  }
  transpose(perm?: readonly number[]): Tensor {
    const p = perm ?? [...this.shape.keys()].reverse();
    return apply("transpose", [this], { perm: p });
  }
  /** Swap the last two axes. */
  get T(): Tensor {
    const p = [...this.shape.keys()];
    [p[p.length - 2], p[p.length - 1]] = [p[p.length - 1] as number, p[p.length - 2] as number];
    return this.transpose(p);
  }
  expand(shape: readonly Dim[]): Tensor {
    return apply("expand", [this], { shape });
  }
  /** Take a range along one axis (step 1). */
  slice(axis: number, start: number, end: number): Tensor {
    return apply("slice", [this], { axis: normAxes(axis, this.rank)[0], start, end });
  }
  /** Rows of this tensor selected by integer indices along axis 0 (embedding lookup). */
  gather(indices: Tensor): Tensor {
    return apply("gather", [this, indices]);
  }
  unsqueeze(axis: number): Tensor {
    const a = axis < 0 ? axis + this.rank + 1 : axis;
    const s = [...this.shape];
    s.splice(a, 0, 1);
    return this.reshape(s);
  }
  squeeze(axis: number): Tensor {
    const a = normAxes(axis, this.rank)[0] as number;
    if (this.shape[a] !== 1) throw traceError("squeeze", `axis ${axis} of ${fmt(this.shape)} is not 1`);
    return this.reshape(this.shape.filter((_, i) => i !== a));
  }
  /** Merge axes [start, end] into one. */
  flatten(start = 0, end = -1): Tensor {
    const e = end < 0 ? end + this.rank : end;
    const s = this.shape;
    const merged = s.slice(start, e + 1).reduce<Dim>((p, d) => mulDim(p, d), 1);
    return this.reshape([...s.slice(0, start), merged, ...s.slice(e + 1)]);
  }
}

export type TensorLike = Tensor | number;

function mulDim(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  return `${a}*${b}`;
}

function normAxes(axes: number | number[] | undefined, rank: number): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : Array.isArray(axes) ? axes : [axes];
  return list.map((a) => {
    const n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank) throw traceError("axis", `axis ${a} is out of range for rank ${rank}`);
    return n;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Recording op applications (the op table in ops/ gives each op's rules).

/** Attribute arguments of `apply`: optional for ops that have none. */
type AttrsArg<K extends OpName> = NoAttrs extends OpAttrs[K] ? [attrs?: OpAttrs[K]] : [attrs: OpAttrs[K]];

/** Record an op application; returns its first output. */
export function apply<K extends OpName>(op: K, inputs: readonly Tensor[], ...attrs: AttrsArg<K>): Tensor {
  return applyMulti(op, inputs, ...attrs)[0] as Tensor;
}

/** Record an op application; returns all of its outputs. */
export function applyMulti<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  ...[attrs = {} as OpAttrs[K]]: AttrsArg<K>
): Tensor[] {
  const def = opDef(op);
  const node = new Node(op, inputs, attrs, new Error());
  let specs: OutSpec | OutSpec[];
  try {
    specs = def.infer(inputs, attrs);
  } catch (e) {
    if (e instanceof ShapeError) {
      const shapes = inputs.map((t) => `${fmt(t.shape)} ${t.dtype}`).join(", ");
      throw new ShapeError(`${e.message}\n  op: ${op}(${shapes})\n  at ${node.site}`);
    }
    throw e;
  }
  node.outputs = (Array.isArray(specs) ? specs : [specs]).map(
    (s, i) => new Tensor(node, i, s.shape, s.dtype),
  );
  return node.outputs;
}

/** A ShapeError for misuse detected outside an op's shape rule (e.g. a bad axis); names the caller. */
export function traceError(op: string, message: string): ShapeError {
  return new ShapeError(`${op}: ${message}\n  at ${userFrame(new Error())}`);
}

// ---------------------------------------------------------------------------------------------------------
// Leaves: graph inputs, constants and runtime-filled random tensors.

/** A graph input (data or a parameter). A string dim is symbolic (e.g. "batch"). */
export function input(name: string, shape: readonly Dim[], dtype: DType = "float32"): Tensor {
  return apply("input", [], { name, shape, dtype });
}

/** A constant tensor (an ONNX initializer). */
export function constant(
  data: TypedArray | number[],
  shape: readonly number[],
  dtype: DType = "float32",
): Tensor {
  return apply("constant", [], { data, shape, dtype });
}

export function scalar(value: number, dtype: DType = "float32"): Tensor {
  return constant([value], [], dtype);
}

/**
 * A tensor of random numbers drawn anew on every run from a counter-based generator keyed by
 * (seed, run index), so that a resumed run draws exactly what an uninterrupted one would.
 */
export function random(
  shape: readonly number[],
  opts: { seed: number; distribution?: "uniform" | "normal"; dtype?: DType },
): Tensor {
  return apply("random", [], {
    shape,
    seed: opts.seed,
    distribution: opts.distribution ?? "uniform",
    dtype: opts.dtype ?? "float32",
  });
}

function lift(v: TensorLike, like: Tensor): Tensor {
  return typeof v === "number" ? scalar(v, like.dtype) : v;
}

/** Element-wise choice: cond ? a : b (broadcasting). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = typeof a === "number" ? (typeof b === "number" ? undefined : b) : a;
  const dtype = like?.dtype ?? "float32";
  const ta = typeof a === "number" ? scalar(a, dtype) : a;
  const tb = typeof b === "number" ? scalar(b, dtype) : b;
  return apply("where", [cond, ta, tb]);
}

export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw traceError("concat", "needs at least one tensor");
  const rank = (tensors[0] as Tensor).rank;
  return apply("concat", tensors, { axis: normAxes(axis, rank)[0] });
}

/** 2-D convolution, x [N,C,H,W] with w [O,C,kh,kw] (groups = 1). */
export function conv2d(
  x: Tensor,
  w: Tensor,
  opts: { stride?: number; padding?: number; dilation?: number } = {},
): Tensor {
  return apply("conv2d", [x, w], {
    stride: opts.stride ?? 1,
    padding: opts.padding ?? 0,
    dilation: opts.dilation ?? 1,
  });
}

/** [0, 1, …, n-1] as a constant. */
export function arange(n: number, dtype: DType = "int64"): Tensor {
  const data = Array.from({ length: n }, (_, i) => i);
  return constant(data, [n], dtype);
}
