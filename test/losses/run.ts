/**
 * Test utilities for the losses: read the PyTorch fixtures (test/fixtures/losses/make_fixtures.py),
 * evaluate a loss and its gradients on concrete inputs through compile + Session, compare numbers.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compile, type DType, grad, input, Session, type Tensor } from "../../src/engine/index.js";
import { projectRoot } from "../helpers.js";

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export interface FixtureCase {
  name: string;
  opts: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  labels?: number[];
  loss: number;
  grads: Record<string, FixtureTensor>;
}

export function fixtures(group: string): FixtureCase[] {
  const file = join(projectRoot, "test", "fixtures", "losses", `${group}.json`);
  return (JSON.parse(readFileSync(file, "utf8")) as { cases: FixtureCase[] }).cases;
}

export type Build = (inputs: Record<string, Tensor>, labels: Tensor | undefined) => Tensor;

export interface Evaluated {
  loss: number;
  grads: Record<string, Float64Array | Float32Array>;
}

/**
 * A compiled loss with inputs named as `shapes` (plus int64 "labels" [n] when `labels` is n), and the
 * gradients of the loss with respect to the inputs named in `wrt`.
 */
export class Evaluator {
  private constructor(
    private readonly session: Session,
    private readonly dtype: DType,
  ) {}

  static async create(
    shapes: Record<string, number[]>,
    labels: number | undefined,
    build: Build,
    wrt: string[],
    dtype: "float32" | "float64" = "float64",
  ): Promise<Evaluator> {
    const xs = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, input(k, s, dtype)]));
    const lab = labels === undefined ? undefined : input("labels", [labels], "int64");
    const loss = build(xs, lab);
    const gs = grad(
      loss,
      wrt.map((k) => xs[k] as Tensor),
    );
    const outputs: Record<string, Tensor> = { loss };
    wrt.forEach((k, i) => {
      outputs[`grad_${k}`] = gs[i] as Tensor;
    });
    const session = await Session.create(compile(outputs, { contrib: dtype !== "float64" }), { threads: 1 });
    return new Evaluator(session, dtype);
  }

  async run(values: Record<string, number[]>, labels?: number[]): Promise<Evaluated> {
    const Arr = this.dtype === "float64" ? Float64Array : Float32Array;
    const feeds: Record<string, Float64Array | Float32Array | BigInt64Array> = {};
    for (const [k, v] of Object.entries(values)) feeds[k] = Arr.from(v);
    if (labels) feeds.labels = BigInt64Array.from(labels.map(BigInt));
    const out = await this.session.run(feeds);
    const grads: Evaluated["grads"] = {};
    for (const [k, t] of Object.entries(out)) {
      if (k.startsWith("grad_")) grads[k.slice(5)] = t.data as Float64Array;
    }
    return { loss: out.loss!.data[0] as number, grads };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Evaluate once and release. */
export async function evaluate(
  values: Record<string, FixtureTensor>,
  labels: number[] | undefined,
  build: Build,
  wrt: string[],
  dtype: "float32" | "float64" = "float64",
): Promise<Evaluated> {
  const shapes = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.shape]));
  const ev = await Evaluator.create(shapes, labels?.length, build, wrt, dtype);
  try {
    return await ev.run(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.data])), labels);
  } finally {
    await ev.release();
  }
}

/** A tensor for `evaluate` from nested rows. */
export function rows(values: number[][]): FixtureTensor {
  return { shape: [values.length, values[0]?.length ?? 0], data: values.flat() };
}

export function scalarValue(v: number): FixtureTensor {
  return { shape: [], data: [v] };
}

/** |actual − expected| ≤ rtol·|expected| + atol, element by element (atol only absorbs exact zeros). */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol = 1e-5,
  atol = 1e-9,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    assert.ok(
      Number.isFinite(a) && Math.abs(a - e) <= rtol * Math.abs(e) + atol,
      `${what}[${i}]: got ${a}, expected ${e}`,
    );
  }
}

export function assertFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    assert.ok(Number.isFinite(values[i] as number), `${what}[${i}] is ${values[i]}`);
  }
}

/** Check a fixture case: loss and every gradient the fixture holds. */
export async function checkFixture(c: FixtureCase, build: Build): Promise<void> {
  const wrt = Object.keys(c.grads);
  const got = await evaluate(c.inputs, c.labels, build, wrt);
  assertClose([got.loss], [c.loss], `${c.name}: loss`);
  for (const k of wrt) assertClose(got.grads[k]!, c.grads[k]!.data, `${c.name}: d loss / d ${k}`);
}
