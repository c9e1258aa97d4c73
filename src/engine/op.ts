/**
 * What an op is: a shape rule (`infer`), an ONNX lowering (`lower`) and, for differentiable ops, a gradient
 * rule (`grad`), registered under its name. The entries themselves live in `ops/`, one file per family.
 *
 * Each op's attributes are typed: a family file declares them by adding to {@link OpAttrs} (TypeScript's
 * interface merging), so `apply("matmul", …, attrs)` is checked where it is called and the op's rules read
 * `node.attrs` without casts.
 */
import type { DType, TypedArray } from "./dtype.js";
import type { Attrs as OnnxAttrs } from "./onnx/model.js";
import type { Dim, Shape } from "./shape.js";
import type { Node, Tensor } from "./tensor.js";

/** Attributes by op name; each file in `ops/` adds the ops it defines. */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in ops/*.ts
export interface OpAttrs {}

export type OpName = keyof OpAttrs;

/** The attributes of an op that has none. */
export type NoAttrs = Record<string, never>;

export interface OutSpec {
  shape: Shape;
  dtype: DType;
}

/** What a lowering rule may do: name values, emit ONNX nodes, add constants. */
export interface Lowering {
  /** ONNX name of a tensor that is already lowered (an input of the node being lowered). */
  name(t: Tensor): string;
  /** A fresh ONNX value name. */
  tmp(hint?: string): string;
  emit(op: string, inputs: string[], outputs: string[], attrs?: OnnxAttrs, domain?: string): void;
  /** An initializer holding these values; returns its name. */
  constant(values: ArrayLike<number> | TypedArray, dtype: DType, dims: readonly number[]): string;
  /**
   * A 1-D int64 tensor holding these dims at run time: numbers as constants, symbolic dims read from the
   * shape of the graph input that carries them (e.g. 'batch').
   */
  dims(dims: readonly Dim[]): string;
  /** Whether ONNX Runtime contrib ops (com.microsoft) may be used. */
  contrib: boolean;
}

export interface OpDef<K extends OpName = OpName> {
  infer(inputs: readonly Tensor[], attrs: OpAttrs[K]): OutSpec | OutSpec[];
  lower(l: Lowering, node: Node<K>, outputs: string[]): void;
  /**
   * Input gradients from output gradients (undefined: no gradient flows to that input). An op without this
   * rule is not differentiable: `grad` raises when a gradient reaches it.
   */
  grad?(node: Node<K>, grads: readonly (Tensor | undefined)[]): (Tensor | undefined)[];
}

const registry = new Map<string, OpDef>();

/** Register an op (done once per op, in `ops/`). */
export function defineOp<K extends OpName>(name: K, def: OpDef<K>): void {
  if (registry.has(name)) throw new Error(`internal: op '${name}' is defined twice`);
  registry.set(name, def as unknown as OpDef);
}

/** The definition of an op, by name. */
export function opDef<K extends OpName>(name: K): OpDef<K> {
  const def = registry.get(name);
  if (!def) throw new Error(`unknown op '${name}'`);
  return def as unknown as OpDef<K>;
}
