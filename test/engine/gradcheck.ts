/**
 * Gradient checking: compare the engine's reverse-mode gradients with central finite differences of the
 * same compiled graph, in float64, along random directions and along single coordinates.
 */
import assert from "node:assert/strict";
import {
  compile,
  constant,
  type Dim,
  type DType,
  grad,
  input,
  Session,
  type Tensor,
} from "../../src/engine/index.js";
import { Rng } from "../../src/engine/random.js";

export interface CheckOptions {
  /** Range inputs are drawn from (default [-1.5, 1.5]); avoid kinks and poles with this. */
  range?: [number, number];
  /** Keep inputs at least this far from these points (kinks such as 0 for relu/abs). */
  avoid?: number[];
  seed?: number;
  /** Relative tolerance of directional derivatives. */
  rtol?: number;
  /** Inputs that are fixed (not differentiated), e.g. integer indices, by position. */
  fixed?: Record<number, { data: Float64Array | BigInt64Array | Int32Array | Uint8Array; dtype: DType }>;
}

function randomData(n: number, rng: Rng, range: [number, number], avoid: number[]): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = range[0] + (range[1] - range[0]) * rng.next();
    while (avoid.some((a) => Math.abs(v - a) < 0.05));
    out[i] = v;
  }
  return out;
}

const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, i) => s + v * (b[i] as number), 0);

/**
 * Check d/dx of sum(f(x…) ⊙ W) for random W against finite differences. Returns the max relative error.
 */
export async function gradcheck(
  shapes: readonly (readonly number[])[],
  f: (...xs: Tensor[]) => Tensor,
  opts: CheckOptions = {},
): Promise<number> {
  const rng = new Rng(opts.seed ?? 1);
  const range = opts.range ?? [-1.5, 1.5];
  const fixed = opts.fixed ?? {};
  const xs = shapes.map((s, i) => input(`x${i}`, s as Dim[], fixed[i]?.dtype ?? "float64"));
  const y = f(...xs);
  const n = y.shape.reduce<number>((p, d) => p * (d as number), 1);
  const w = constant(randomData(n, rng, [-1, 1], []), y.shape as number[], "float64");
  const loss = y.cast("float64").mul(w).sum();
  const free = xs.filter((_, i) => !fixed[i]);
  const grads = grad(loss, free);
  const outputs: Record<string, Tensor> = { loss };
  for (const [i, g] of grads.entries()) outputs[`g${i}`] = g;
  const session = await Session.create(compile(outputs, { contrib: false }));

  const values = shapes.map(
    (s, i) =>
      fixed[i]?.data ??
      randomData(
        s.reduce((p, d) => p * d, 1),
        rng,
        range,
        opts.avoid ?? [],
      ),
  );
  const feeds = (vs: typeof values) => Object.fromEntries(vs.map((v, i) => [`x${i}`, v]));
  const base = await session.run(feeds(values));
  const lossAt = async (vs: typeof values) => (await session.run(feeds(vs))).loss!.data[0] as number;

  let worst = 0;
  const eps = 1e-6;
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    if (fixed[i]) continue;
    const g = base[`g${k++}`]!.data as Float64Array;
    const x = values[i] as Float64Array;
    const directions: Float64Array[] = [randomData(x.length, rng, [-1, 1], [])];
    for (let c = 0; c < Math.min(3, x.length); c++) {
      const e = new Float64Array(x.length);
      e[rng.int(x.length)] = 1;
      directions.push(e);
    }
    for (const v of directions) {
      const plus = values.map((a, j) => (j === i ? x.map((xv, t) => xv + eps * (v[t] as number)) : a));
      const minus = values.map((a, j) => (j === i ? x.map((xv, t) => xv - eps * (v[t] as number)) : a));
      const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * eps);
      const analytic = dot(g, v);
      const err = Math.abs(numeric - analytic) / Math.max(1e-3, Math.abs(numeric) + Math.abs(analytic));
      worst = Math.max(worst, err);
      assert.ok(
        err < (opts.rtol ?? 1e-5),
        `input ${i}: analytic ${analytic} vs numeric ${numeric} (relative error ${err.toExponential(2)})`,
      );
    }
  }
  await session.release();
  return worst;
}
