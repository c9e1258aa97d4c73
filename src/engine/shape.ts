/**
 * Shapes at trace time. A dimension is a number or a symbol ("batch"); products of symbols stay symbolic
 * ("batch*65"), so reshapes of a symbolic batch can still be checked before anything runs.
 */
import { UserError } from "../util/errors.js";

export type Dim = number | string;
export type Shape = readonly Dim[];

/** A shape error raised while tracing: names the op, the shapes and the user's call site. */
export class ShapeError extends UserError {
  override name = "ShapeError";
}

/** Factors of a dimension: numeric part and sorted symbol names. */
export function factors(d: Dim): { n: number; syms: string[] } {
  if (typeof d === "number") return { n: d, syms: [] };
  let n = 1;
  const syms: string[] = [];
  for (const f of d.split("*")) {
    if (/^\d+$/.test(f)) n *= Number(f);
    else syms.push(f);
  }
  return { n, syms: syms.sort() };
}

function fromFactors(n: number, syms: string[]): Dim {
  if (syms.length === 0) return n;
  const s = [...syms].sort();
  return n === 1 ? s.join("*") : [String(n), ...s].join("*");
}

/** Product of dimensions, symbolic when any factor is. */
export function dimProduct(dims: Shape): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    const f = factors(d);
    n *= f.n;
    syms.push(...f.syms);
  }
  return fromFactors(n, syms);
}

/** Quotient a / b of dimensions when it is exact, else undefined. */
export function dimDivide(a: Dim, b: Dim): Dim | undefined {
  const fa = factors(a);
  const fb = factors(b);
  if (fb.n === 0 || fa.n % fb.n !== 0) return undefined;
  const rest = [...fa.syms];
  for (const s of fb.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return fromFactors(fa.n / fb.n, rest);
}

export const dimEqual = (a: Dim, b: Dim): boolean => String(dimProduct([a])) === String(dimProduct([b]));

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

/** Number of elements of a static shape. */
export function sizeOf(shape: Shape): number {
  const p = dimProduct(shape);
  if (typeof p !== "number") throw new Error(`shape [${shape}] is symbolic`);
  return p;
}

export const fmt = (s: Shape): string => `[${s.join(", ")}]`;

/** NumPy broadcasting of two shapes; undefined when they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (dimEqual(x, y) || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else return undefined;
  }
  return out;
}

/** Normalize a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/**
 * Resolve a reshape target that may contain one -1, checking that element counts agree (symbolically).
 */
export function resolveReshape(from: Shape, to: readonly Dim[], op = "reshape"): Dim[] {
  const total = dimProduct(from);
  const holes = to.filter((d) => d === -1).length;
  if (holes > 1) throw new ShapeError(`${op}: at most one -1 in the target shape ${fmt(to)}`);
  if (holes === 1) {
    const known = dimProduct(to.filter((d) => d !== -1));
    const rest = dimDivide(total, known);
    if (rest === undefined) throw new ShapeError(`${op}: cannot reshape ${fmt(from)} to ${fmt(to)}`);
    return to.map((d) => (d === -1 ? rest : d));
  }
  if (String(dimProduct(to)) !== String(total)) {
    throw new ShapeError(`${op}: cannot reshape ${fmt(from)} (${total} elements) to ${fmt(to)}`);
  }
  return [...to];
}
