/**
 * Lowering: turn the traced graph that produces some named outputs into one ONNX model. Graph inputs are
 * the `input` leaves (data and parameters, fed zero-copy at run time) and the `random` leaves (filled by the
 * session from a counter-based generator); `constant` leaves and frozen inputs become initializers.
 */

import { type DType, type TypedArray, toTyped } from "./dtype.js";
import { topoSort } from "./grad.js";
import { DEFAULT_OPSET, type OnnxModel, type OnnxNode, type ValueInfo } from "./onnx/model.js";
import { type Lowering, type OpName, opDef } from "./op.js";
import { quantizeWeights, type WeightFormat } from "./quantize.js";
import { type Dim, factors, fmt, ShapeError, sizeOf } from "./shape.js";
import type { Node, Tensor } from "./tensor.js";

export interface TensorSpec {
  name: string;
  shape: readonly Dim[];
  dtype: DType;
}

export interface RandomSpec extends TensorSpec {
  seed: number;
  distribution: "uniform" | "normal";
}

export interface CompileOptions {
  /** Allow ONNX Runtime contrib ops (FusedMatMul, Gelu, …). Off for portable exports. Default on. */
  contrib?: boolean;
  /** Inputs to bake in as initializers (e.g. weights of an inference graph), by input name. */
  freeze?: ReadonlyMap<string, TypedArray> | Record<string, TypedArray>;
  /**
   * How the frozen weights are held (default fp32): q8 (int8 dense products, int8 activations at run time)
   * or fp16 (half-size storage, float32 compute); see quantize.ts.
   */
  weights?: WeightFormat;
  opset?: number;
  name?: string;
  metadata?: Record<string, string>;
}

export interface Compiled {
  model: OnnxModel;
  /** Inputs the caller feeds, in graph order. */
  inputs: TensorSpec[];
  /** Inputs the session fills with fresh random numbers on every run. */
  randoms: RandomSpec[];
  outputs: TensorSpec[];
}

const LEAVES = new Set<OpName>(["input", "constant", "random"]);

export function compile(outputs: Record<string, Tensor>, opts: CompileOptions = {}): Compiled {
  const contrib = opts.contrib ?? true;
  const freeze = opts.freeze instanceof Map ? opts.freeze : new Map(Object.entries(opts.freeze ?? {}));
  const nodes: OnnxNode[] = [];
  const initializers: OnnxModel["initializers"] = [];
  const inputs: TensorSpec[] = [];
  const randoms: RandomSpec[] = [];
  const names = new Map<Tensor, string>();
  const inputNames = new Set<string>();
  const constCache = new Map<string, { name: string; data: TypedArray }>();
  let counter = 0;
  /** Where each symbolic dim can be read at run time: a graph input and its axis. */
  const symbolSource = new Map<string, { input: string; axis: number }>();
  const shapeOfInput = new Map<string, string>();

  const lowering: Lowering = {
    contrib,
    name(t) {
      const n = names.get(t);
      if (n === undefined) throw new Error(`internal: ${t} used before it was lowered`);
      return n;
    },
    tmp: (hint = "t") => `${hint}_${counter++}`,
    emit(op, ins, outs, attrs, domain) {
      nodes.push({ op, inputs: ins, outputs: outs, attrs, domain });
    },
    constant(values, dtype, dims) {
      // Equal constants share one initializer (rows of ones for batch sums, causal masks, scalars).
      const data = toTyped(values, dtype);
      const key = `${dtype}|${dims}|${contentKey(data)}`;
      const hit = constCache.get(key);
      if (hit && sameBytes(hit.data, data)) return hit.name;
      const name = `const_${counter++}`;
      initializers.push({ name, dtype, dims, data });
      if (!hit) constCache.set(key, { name, data });
      return name;
    },
    dims(dims) {
      if (dims.every((d) => typeof d === "number"))
        return lowering.constant(dims as number[], "int64", [dims.length]);
      const parts = dims.map((d) => {
        const { n, syms } = factors(d);
        let part = lowering.constant([n], "int64", [1]);
        for (const sym of syms) {
          const src = symbolSource.get(sym);
          if (!src) throw new ShapeError(`compile: no graph input carries the symbolic dim '${sym}'`);
          let shape = shapeOfInput.get(src.input);
          if (!shape) {
            shape = lowering.tmp("shape");
            lowering.emit("Shape", [src.input], [shape]);
            shapeOfInput.set(src.input, shape);
          }
          const dim = lowering.tmp("dim");
          lowering.emit("Gather", [shape, lowering.constant([src.axis], "int64", [1])], [dim], { axis: 0 });
          const prod = lowering.tmp("dim");
          lowering.emit("Mul", [part, dim], [prod]);
          part = prod;
        }
        return part;
      });
      const out = lowering.tmp("dims");
      lowering.emit("Concat", parts, [out], { axis: 0 });
      return out;
    },
  };

  // A graph output produced by an op takes the output's name directly (an Identity would copy it).
  const outputNameOf = new Map<Tensor, string>();
  for (const [name, t] of Object.entries(outputs)) {
    if (!LEAVES.has(t.op) && !outputNameOf.has(t)) outputNameOf.set(t, name);
  }

  const roots = Object.values(outputs);
  const order = topoSort(roots);
  for (const node of order) {
    if (!node.is("input") || freeze.has(node.attrs.name)) continue;
    const { name } = node.attrs;
    (node.outputs[0] as Tensor).shape.forEach((d, axis) => {
      if (typeof d === "string" && !d.includes("*") && !symbolSource.has(d))
        symbolSource.set(d, { input: name, axis });
    });
  }
  for (const node of order) {
    const t = node.outputs[0] as Tensor;
    if (node.is("input")) {
      const { name } = node.attrs;
      if (inputNames.has(name)) throw new ShapeError(`compile: two different inputs are named '${name}'`);
      inputNames.add(name);
      names.set(t, name);

      const frozen = freeze.get(name);
      if (frozen) {
        const n = sizeOf(t.shape);
        if (frozen.length !== n)
          throw new ShapeError(
            `compile: frozen input '${name}' has ${frozen.length} values, shape ${fmt(t.shape)} needs ${n}`,
          );
        initializers.push({ name, dtype: t.dtype, dims: t.shape as number[], data: frozen });
      } else {
        inputs.push({ name, shape: t.shape, dtype: t.dtype });
      }
      continue;
    }
    if (node.is("constant")) {
      names.set(t, lowering.constant(node.attrs.data, t.dtype, t.shape as number[]));
      continue;
    }
    if (node.is("random")) {
      const name = `random_${counter++}`;
      names.set(t, name);
      const { seed, distribution } = node.attrs;
      randoms.push({ name, shape: t.shape, dtype: t.dtype, seed, distribution });
      continue;
    }
    const outs = node.outputs.map((o) => {
      const n = outputNameOf.get(o) ?? `v${o.id}`;
      names.set(o, n);
      return n;
    });
    opDef(node.op).lower(lowering, node as Node, outs);
  }

  const outputSpecs: TensorSpec[] = [];
  for (const [name, t] of Object.entries(outputs)) {
    if (inputNames.has(name)) throw new ShapeError(`compile: output '${name}' has the name of an input`);
    if (outputNameOf.get(t) !== name)
      nodes.push({ op: "Identity", inputs: [lowering.name(t)], outputs: [name] });
    outputSpecs.push({ name, shape: t.shape, dtype: t.dtype });
  }

  const valueInfo = (s: TensorSpec): ValueInfo => ({ name: s.name, dtype: s.dtype, dims: s.shape });
  const model: OnnxModel = {
    nodes,
    initializers,
    inputs: [...inputs, ...randoms].map(valueInfo),
    outputs: outputSpecs.map(valueInfo),
    opset: opts.opset ?? DEFAULT_OPSET,
    name: opts.name,
    metadata: opts.metadata,
  };
  quantizeWeights(model, opts.weights ?? "fp32", { contrib, weights: new Set(freeze.keys()) });
  const usesContrib = model.nodes.some((n) => n.domain === "com.microsoft");
  model.domains = usesContrib ? { "com.microsoft": 1 } : {};
  return {
    model,
    inputs,
    randoms,
    outputs: outputSpecs,
  };
}

function sameBytes(a: TypedArray, b: TypedArray): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** A key for a constant's values: the values themselves when few, else a 64-bit FNV-1a of their bytes. */
function contentKey(data: TypedArray): string {
  if (data.length <= 16) return Array.from(data as ArrayLike<number | bigint>).join(",");
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ (bytes[i] as number), 0x01000193);
    h2 = Math.imul(h2 ^ (bytes[i] as number), 0x811c9dc5);
  }
  return `${data.length}#${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}
