/** Helpers shared by the op families' rules. */
import { type DType, isFloatDType } from "../dtype.js";
import type { Lowering, OpName, OutSpec } from "../op.js";
import { type Dim, dimEqual, type Shape, ShapeError } from "../shape.js";
import type { Node, Tensor } from "../tensor.js";

export const isFloat = (t: Tensor): boolean => isFloatDType(t.dtype);
export const inp = <K extends OpName>(node: Node<K>, i: number): Tensor => node.inputs[i] as Tensor;
export const out = <K extends OpName>(node: Node<K>, i = 0): Tensor => node.outputs[i] as Tensor;

export function sameDtype(op: string, ts: readonly Tensor[]): DType {
  const d = (ts[0] as Tensor).dtype;
  for (const t of ts) {
    if (t.dtype !== d) throw new ShapeError(`${op}: dtypes differ (${ts.map((x) => x.dtype).join(" vs ")})`);
  }
  return d;
}

export function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t)) throw new ShapeError(`${op}: expected a float tensor, got ${t.dtype}`);
}

/** Same shape and dtype as a float input. */
export function floatLike(op: string, x: Tensor): OutSpec {
  requireFloat(op, x);
  return { shape: x.shape, dtype: x.dtype };
}

/** The shape a reduction keeps when keepdims is on. */
export const keptShape = (shape: Shape, axes: readonly number[]): Dim[] =>
  shape.map((d, i) => (axes.includes(i) ? 1 : d));

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

export const int64s = (l: Lowering, values: readonly number[]): string =>
  l.constant(values, "int64", [values.length]);

export const scalarConst = (l: Lowering, v: number, dtype: DType): string => l.constant([v], dtype, []);

/** Lowering of a batched operand as one 2-D matrix of rows ([..., K] → [rows, K]); rank 2 as it is. */
export function rowsOf(l: Lowering, t: Tensor): string {
  const name = l.name(t);
  if (t.rank === 2) return name;
  const flat = l.tmp("flat");
  l.emit("Reshape", [name, int64s(l, [-1, t.shape[t.rank - 1] as number])], [flat]);
  return flat;
}

/** Reshape to `shape`, literal where at most one dim is symbolic (as -1): ONNX Runtime's optimizer sees it. */
export function reshapeTo(l: Lowering, name: string, shape: readonly Dim[], y: string): void {
  const literal = shape.map((d) => (typeof d === "number" ? d : -1));
  const spec = literal.filter((d) => d === -1).length <= 1 ? int64s(l, literal) : l.dims(shape);
  l.emit("Reshape", [name, spec], [y]);
}

/** Gradient for a rank-2 operand used against a batched one: flatten the batch instead of summing after. */
export const flat2d = (t: Tensor): Tensor => t.reshape([-1, t.shape[t.rank - 1] as Dim]);
