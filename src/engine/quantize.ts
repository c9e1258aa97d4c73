/**
 * Weight precision of a compiled inference graph, applied to its frozen weights after lowering:
 *
 * - `q8`: the weight of every dense product (Gemm, MatMul, FusedMatMul with a weight operand) becomes int8
 *   with one scale per output channel (symmetric, 7-bit range: scale = max|w| / 63, zero point 0; see
 *   {@link WEIGHT_LEVELS}), and its activations
 *   are quantized to uint8 at run time, per tensor (DynamicQuantizeLinear's asymmetric range). With contrib
 *   ops that is one DynamicQuantizeMatMul per layer (bias folded in); portable graphs use the standard
 *   DynamicQuantizeLinear → MatMulInteger → Cast → Mul → Add chain, the form ONNX Runtime's own
 *   `quantize_dynamic` writes and transformers.js's `*_quantized.onnx` files hold (ONNX Runtime fuses it back
 *   into one kernel on the CPU).
 *   Packed self-attention (the contrib Attention kernel) becomes QAttention: its q/k/v projection int8 the
 *   same way, its input quantized by a DynamicQuantizeLinear. With contrib ops the erf GELU becomes its
 *   tanh form (FastGelu), whose difference (under 1e-3) is far inside int8's rounding. Each of the two cut
 *   the q8 towers' CPU time, measured in the whole towers (docs/quantization.md).
 *   What stays float32: convolutions (ConvInteger ran at about half the speed of float32 Conv), the
 *   attention's score and softmax products, embedding tables and norms.
 * - `fp16`: every float32 weight is stored as float16 and widened by a Cast at the start of the graph. The
 *   file is half the size; ONNX Runtime folds the Casts when it loads the graph, so it computes in float32
 *   at float32's speed (MLAS has no fast float16 kernels on x86 CPUs): the only change is the rounding of
 *   the weights.
 *
 * Weights that feed more than one product keep their float32 copy for the others.
 */
import { f32ToF16 } from "../io/half.js";
import type { OnnxModel, OnnxNode } from "./onnx/model.js";

export type WeightFormat = "fp32" | "fp16" | "q8";

export const WEIGHT_FORMATS: readonly WeightFormat[] = ["fp32", "fp16", "q8"];

type Init = OnnxModel["initializers"][number];

export interface QuantizeOptions {
  /** Use ONNX Runtime's contrib kernels (DynamicQuantizeMatMul); off for portable files. */
  contrib: boolean;
  /** The initializers that are weights (frozen inputs); others (masks, shapes, ones) are left alone. */
  weights: ReadonlySet<string>;
}

/** Rewrite `model` in place so that its weights are held as `format` says. */
export function quantizeWeights(model: OnnxModel, format: WeightFormat, opts: QuantizeOptions): void {
  if (format === "fp32") return;
  const weights = new Set(opts.weights);
  foldWeightLayout(model, weights);
  if (format === "q8") {
    quantizeProducts(model, weights, opts.contrib);
    if (opts.contrib) approximateGelu(model);
  } else halveWeights(model, weights);
  dropUnused(model);
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Fold Transpose, Reshape and Slice nodes that read a weight straight into new weights, so that the products
 * see their weight as an initializer (the patch embedding reshapes its conv weight, portable attention
 * transposes its in_proj, the image tower's last block slices it).
 */
function foldWeightLayout(model: OnnxModel, weights: Set<string>): void {
  const inits = new Map(model.initializers.map((t) => [t.name, t]));
  const kept: OnnxNode[] = [];
  for (const node of model.nodes) {
    const w = inits.get(node.inputs[0] as string);
    const folded = w && weights.has(w.name) && w.dtype === "float32" ? foldLayout(node, w, inits) : undefined;
    if (!folded) {
      kept.push(node);
      continue;
    }
    const t = { ...folded, name: node.outputs[0] as string };
    model.initializers.push(t);
    inits.set(t.name, t);
    weights.add(t.name);
  }
  model.nodes = kept;
}

function foldLayout(node: OnnxNode, w: Init, inits: Map<string, Init>): Omit<Init, "name"> | undefined {
  if (node.op === "Transpose" && w.dims.length === 2) {
    const perm = node.attrs?.perm as number[] | undefined;
    if (perm && (perm[0] !== 1 || perm[1] !== 0)) return undefined;
    const [r, c] = w.dims as [number, number];
    return { dtype: "float32", dims: [c, r], data: transpose(w.data as Float32Array, r, c) };
  }
  if (node.op === "Slice") return sliceOf(node, w, inits);
  if (node.op === "Reshape") {
    const shape = inits.get(node.inputs[1] as string);
    if (shape?.dtype !== "int64") return undefined;
    const dims = Array.from(shape.data as BigInt64Array, Number);
    let size = w.data.length;
    for (const [i, d] of dims.entries()) if (d !== -1) size /= d === 0 ? (w.dims[i] as number) : d;
    const resolved = dims.map((d, i) => (d === -1 ? size : d === 0 ? (w.dims[i] as number) : d));
    return { dtype: "float32", dims: resolved, data: w.data };
  }
  return undefined;
}

/**
 * A one-axis, unit-step Slice of a weight (the image tower's last block computes q for the class token only
 * and slices the packed in_proj into its q and k/v parts).
 */
function sliceOf(node: OnnxNode, w: Init, inits: Map<string, Init>): Omit<Init, "name"> | undefined {
  const ints = (i: number) => {
    const t = inits.get(node.inputs[i] as string);
    return t?.dtype === "int64" ? Array.from(t.data as BigInt64Array, Number) : undefined;
  };
  const [starts, ends] = [ints(1), ints(2)];
  const axes = node.inputs[3] ? ints(3) : [0];
  const steps = node.inputs[4] ? ints(4) : [1];
  if (starts?.length !== 1 || ends?.length !== 1 || axes?.length !== 1 || steps?.[0] !== 1) return undefined;
  const rank = w.dims.length;
  const axis = (axes[0] as number) < 0 ? (axes[0] as number) + rank : (axes[0] as number);
  const size = w.dims[axis] as number;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  const [from, to] = [clamp(starts[0] as number), clamp(ends[0] as number)];
  if (to <= from) return undefined;
  const outer = w.dims.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = w.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const data = new Float32Array(outer * (to - from) * inner);
  for (let o = 0; o < outer; o++)
    data.set(
      (w.data as Float32Array).subarray((o * size + from) * inner, (o * size + to) * inner),
      o * (to - from) * inner,
    );
  return { dtype: "float32", dims: w.dims.map((d, i) => (i === axis ? to - from : d)), data };
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

// ---------------------------------------------------------------------------------------------------------

/** A dense product with a weight operand: y = a · W (+ bias), W as [K, N] after any transpose. */
interface Product {
  a: string;
  /** The weight as [K, N], row-major. */
  w: Float32Array;
  k: number;
  n: number;
  bias?: string;
  y: string;
}

/** The product a node computes with a 2-D float32 weight, or undefined for any other node. */
function productOf(node: OnnxNode, inits: Map<string, Init>, weights: Set<string>): Product | undefined {
  const at = node.attrs ?? {};
  const num = (v: unknown, d: number) =>
    v === undefined ? d : typeof v === "number" ? v : (v as { f: number }).f;
  const weight = inits.get(node.inputs[1] as string);
  if (!weight || !weights.has(weight.name) || weight.dtype !== "float32" || weight.dims.length !== 2) return;
  if (num(at.transA, 0) !== 0 || num(at.alpha, 1) !== 1) return;
  const transB = num(at.transB, 0) === 1;
  const [r, c] = weight.dims as [number, number];
  const [k, n] = transB ? [c, r] : [r, c];
  const w = transB ? transpose(weight.data as Float32Array, r, c) : (weight.data as Float32Array);
  const [a, , bias] = node.inputs as [string, string, string?];
  const y = node.outputs[0] as string;
  if (node.op === "MatMul" && !node.domain) return { a, w, k, n, y };
  if (node.op === "FusedMatMul" && node.domain === "com.microsoft") return { a, w, k, n, y };
  if (node.op === "Gemm" && !node.domain) {
    if (bias && (num(at.beta, 1) !== 1 || inits.get(bias)?.dims.length !== 1)) return;
    return { a, w, k, n, bias: bias || undefined, y };
  }
  return undefined;
}

/**
 * The largest quantized weight magnitude: 63, not 127 (ONNX Runtime's `reduce_range`). On x86 CPUs without
 * VNNI (AVX2 only, as the AMD EPYC this was measured on) MLAS multiplies uint8 activations by int8 weights
 * with `vpmaddubsw`, which adds two products into a saturating int16: 255 × 127 × 2 overflows it, and a
 * width-64 CLIP's q8 embeddings fell to cosine 0.959 of fp32. 255 × 63 × 2 = 32,130 fits, so the same file
 * is exact on every CPU, for one bit of weight precision.
 */
export const WEIGHT_LEVELS = 63;

/** Per-output-channel symmetric int8 in ±{@link WEIGHT_LEVELS}: W [K, N] → q [K, N] and one scale per column. */
export function quantizeColumns(
  w: Float32Array,
  k: number,
  n: number,
): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++) {
      const v = Math.abs(w[i * n + j]!);
      if (v > scale[j]!) scale[j] = v;
    }
  }
  for (let j = 0; j < n; j++) scale[j] = scale[j]! > 0 ? scale[j]! / WEIGHT_LEVELS : 1;
  const q = new Int8Array(k * n);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++) q[i * n + j] = Math.round(w[i * n + j]! / scale[j]!);
  }
  return { q, scale };
}

/** A contrib Attention node with an initializer weight [D, 3D] and bias [3D]. */
function attentionOf(node: OnnxNode, inits: Map<string, Init>, weights: Set<string>) {
  if (node.op !== "Attention" || node.domain !== "com.microsoft" || node.inputs.length !== 3) return;
  const [x, wName, b] = node.inputs as [string, string, string];
  const w = inits.get(wName);
  if (!w || !weights.has(wName) || w.dtype !== "float32" || !inits.has(b)) return;
  const [d, n] = w.dims as [number, number];
  return { x, w: w.data as Float32Array, d, n, b, y: node.outputs[0] as string, attrs: node.attrs ?? {} };
}

function quantizeProducts(model: OnnxModel, weights: Set<string>, contrib: boolean): void {
  const inits = new Map(model.initializers.map((t) => [t.name, t]));
  const nodes: OnnxNode[] = [];
  let counter = 0;
  for (const node of model.nodes) {
    const att = contrib ? attentionOf(node, inits, weights) : undefined;
    if (att) {
      const id = `q8_${counter++}`;
      const { q, scale } = quantizeColumns(att.w, att.d, att.n);
      model.initializers.push(
        { name: `${id}_w`, dtype: "int8", dims: [att.d, att.n], data: q },
        { name: `${id}_w_scale`, dtype: "float32", dims: [att.n], data: scale },
      );
      const [xq, xs, xz] = [`${id}_x`, `${id}_x_scale`, `${id}_x_zero`];
      nodes.push(
        { op: "DynamicQuantizeLinear", inputs: [att.x], outputs: [xq, xs, xz] },
        {
          op: "QAttention",
          inputs: [xq, `${id}_w`, att.b, xs, `${id}_w_scale`, "", xz],
          outputs: [att.y],
          attrs: att.attrs,
          domain: "com.microsoft",
        },
      );
      continue;
    }
    const p = productOf(node, inits, weights);
    if (!p) {
      nodes.push(node);
      continue;
    }
    const id = `q8_${counter++}`;
    const { q, scale } = quantizeColumns(p.w, p.k, p.n);
    model.initializers.push(
      { name: `${id}_w`, dtype: "int8", dims: [p.k, p.n], data: q },
      { name: `${id}_w_scale`, dtype: "float32", dims: [p.n], data: scale },
    );
    if (contrib) {
      const ins = [p.a, `${id}_w`, `${id}_w_scale`, "", ...(p.bias ? [p.bias] : [])];
      nodes.push({ op: "DynamicQuantizeMatMul", inputs: ins, outputs: [p.y], domain: "com.microsoft" });
      continue;
    }
    model.initializers.push({ name: `${id}_w_zero`, dtype: "int8", dims: [p.n], data: new Int8Array(p.n) });
    const v = (s: string) => `${id}_${s}`;
    nodes.push(
      { op: "DynamicQuantizeLinear", inputs: [p.a], outputs: [v("a"), v("a_scale"), v("a_zero")] },
      { op: "MatMulInteger", inputs: [v("a"), v("w"), v("a_zero"), v("w_zero")], outputs: [v("acc")] },
      { op: "Cast", inputs: [v("acc")], outputs: [v("accf")], attrs: { to: 1 } },
      { op: "Mul", inputs: [v("a_scale"), v("w_scale")], outputs: [v("scale")] },
      { op: "Mul", inputs: [v("accf"), v("scale")], outputs: [p.bias ? v("y") : p.y] },
    );
    if (p.bias) nodes.push({ op: "Add", inputs: [v("y"), p.bias], outputs: [p.y] });
  }
  model.nodes = nodes;
}

/**
 * The contrib erf GELU as its tanh approximation (FastGelu): |difference| < 1e-3 for every input, a
 * fraction of what int8 weights and activations move, and its kernel ran faster in the q8 towers. A bias
 * added just before it (the MLP's first layer) goes into the kernel, as ONNX Runtime's BiasGelu does for Gelu.
 */
function approximateGelu(model: OnnxModel): void {
  const inits = new Map(model.initializers.map((t) => [t.name, t]));
  const readers = new Map<string, number>();
  for (const n of model.nodes) for (const i of n.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  const producer = new Map(model.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const folded = new Set<OnnxNode>();
  for (const node of model.nodes) {
    if (node.op !== "Gelu" || node.domain !== "com.microsoft") continue;
    node.op = "FastGelu";
    const add = producer.get(node.inputs[0] as string);
    if (add?.op !== "Add" || add.domain || readers.get(add.outputs[0] as string) !== 1) continue;
    const bias = add.inputs.findIndex((i) => inits.get(i)?.dims.length === 1);
    if (bias < 0) continue;
    node.inputs = [add.inputs[1 - bias] as string, add.inputs[bias] as string];
    folded.add(add);
  }
  model.nodes = model.nodes.filter((n) => !folded.has(n));
}

// ---------------------------------------------------------------------------------------------------------

function halveWeights(model: OnnxModel, weights: Set<string>): void {
  const casts: OnnxNode[] = [];
  model.initializers = model.initializers.map((t) => {
    if (!weights.has(t.name) || t.dtype !== "float32") return t;
    const half = `${t.name}_fp16`;
    casts.push({ op: "Cast", inputs: [half], outputs: [t.name], attrs: { to: 1 } });
    return { name: half, dtype: "float16", dims: t.dims, data: f32ToF16(t.data as Float32Array) };
  });
  model.nodes = [...casts, ...model.nodes];
}

/** Remove initializers no node reads any more (weights replaced by their int8 or folded forms). */
function dropUnused(model: OnnxModel): void {
  const read = new Set(model.nodes.flatMap((n) => n.inputs));
  for (const o of model.outputs) read.add(o.name);
  model.initializers = model.initializers.filter((t) => read.has(t.name));
}
