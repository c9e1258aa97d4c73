/**
 * Ops whose ONNX Runtime kernels exist only in float32 (Erf, Conv, ConvTranspose and the contrib ops):
 * their values and gradients are checked against analytic forms computed here in float64.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compile, conv2d, grad, input, Session, type Tensor } from "../../src/engine/index.js";
import { Rng } from "../../src/engine/random.js";

const rand = (n: number, seed: number, scale = 1): Float32Array => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => (r.next() * 2 - 1) * scale);
};

/** erf by Simpson's rule on 2/√π·exp(−t²): exact to ~1e-13 here, independent of any library. */
function erf(x: number): number {
  const n = 2000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i] as number;
    const err = Math.abs((actual[i] as number) - e) / Math.max(1, Math.abs(e));
    worst = Math.max(worst, err);
  }
  assert.ok(worst < tol, `${what}: max error ${worst.toExponential(2)} ≥ ${tol}`);
}

/** Value and gradient of sum(f(x)) in float32, with or without contrib ops. */
async function valueAndGrad(f: (x: Tensor) => Tensor, data: Float32Array, contrib: boolean) {
  const x = input("x", [data.length]);
  const y = f(x);
  const [g] = grad(y.sum(), [x]);
  const s = await Session.create(compile({ y, g: g! }, { contrib }));
  const r = await s.run({ x: data });
  return { y: r.y!.data as Float32Array, g: r.g!.data as Float32Array };
}

describe("float32-only kernels against float64 analytic forms", () => {
  const xs = rand(64, 1, 3);
  const phi = (v: number) => Math.exp((-v * v) / 2) / Math.sqrt(2 * Math.PI);
  const cdf = (v: number) => 0.5 * (1 + erf(v / Math.SQRT2));

  test("erf and its gradient", async () => {
    const { y, g } = await valueAndGrad((x) => x.erf(), xs, false);
    assertClose(y, Array.from(xs, erf), 1e-6, "erf");
    assertClose(
      g,
      Array.from(xs, (v) => (2 / Math.sqrt(Math.PI)) * Math.exp(-v * v)),
      1e-6,
      "erf'",
    );
  });

  for (const contrib of [false, true]) {
    test(`gelu (erf form), ${contrib ? "contrib Gelu kernel" : "standard ops"}`, async () => {
      const { y, g } = await valueAndGrad((x) => x.gelu(), xs, contrib);
      assertClose(
        y,
        Array.from(xs, (v) => v * cdf(v)),
        1e-6,
        "gelu",
      );
      assertClose(
        g,
        Array.from(xs, (v) => cdf(v) + v * phi(v)),
        1e-6,
        "gelu'",
      );
    });

    test(`gelu (tanh form), ${contrib ? "contrib FastGelu kernel" : "standard ops"}`, async () => {
      const k = Math.sqrt(2 / Math.PI);
      const { y } = await valueAndGrad((x) => x.gelu("tanh"), xs, contrib);
      assertClose(
        y,
        Array.from(xs, (v) => 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v ** 3)))),
        1e-6,
        "gelu_tanh",
      );
    });

    test(`quickGelu, ${contrib ? "contrib QuickGelu kernel" : "standard ops"}`, async () => {
      const sig = (v: number) => 1 / (1 + Math.exp(-v));
      const { y, g } = await valueAndGrad((x) => x.quickGelu(), xs, contrib);
      assertClose(
        y,
        Array.from(xs, (v) => v * sig(1.702 * v)),
        1e-6,
        "quickGelu",
      );
      const d = (v: number) => sig(1.702 * v) + 1.702 * v * sig(1.702 * v) * (1 - sig(1.702 * v));
      assertClose(g, Array.from(xs, d), 1e-6, "quickGelu'");
    });
  }

  test("matmul with transposes: contrib FusedMatMul equals standard MatMul+Transpose", async () => {
    const a = input("a", [2, 5, 3]);
    const b = input("b", [4, 5]);
    const outs = { p: a.matmul(b, { transA: true, transB: true }), q: a.matmul(a, { transA: true }) };
    const feeds = { a: rand(30, 2), b: rand(20, 3) };
    const r1 = await (await Session.create(compile(outs, { contrib: true }))).run(feeds);
    const r2 = await (await Session.create(compile(outs, { contrib: false }))).run(feeds);
    assertClose(r1.p!.data as Float32Array, r2.p!.data as Float32Array, 1e-6, "p");
    assertClose(r1.q!.data as Float32Array, r2.q!.data as Float32Array, 1e-6, "q");
  });

  test("sum over leading axes (lowered as a product with ones in float32) equals the float64 ReduceSum", async () => {
    for (const [shape, axes, keep] of [
      [[6, 13, 5], [0, 1], false],
      [[6, 13, 5], [1, 0], true],
      [[70, 3], [0], false],
    ] as [number[], number[], boolean][]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const feeds = { x: rand(n, 9) };
      const r32 = await (await Session.create(compile({ y: input("x", shape).sum(axes, keep) }))).run(feeds);
      const x64 = input("x", shape, "float64");
      const r64 = await (await Session.create(compile({ y: x64.sum(axes, keep) }))).run({
        x: Float64Array.from(feeds.x),
      });
      assert.deepEqual(r32.y!.dims, r64.y!.dims);
      assertClose(
        r32.y!.data as Float32Array,
        r64.y!.data as Float64Array,
        1e-5,
        `sum ${shape} over ${axes}`,
      );
    }
  });

  test("LayerNormalization kernel (float32) equals the float64 spelled-out form", async () => {
    const x32 = input("x", [4, 8]);
    const w32 = input("w", [8]);
    const b32 = input("b", [8]);
    const y32 = x32.layerNorm(w32, b32, 1e-5);
    const [gx32] = grad(y32.mul(y32).sum(), [x32]);
    const feeds = { x: rand(32, 4, 2), w: rand(8, 5), b: rand(8, 6) };
    const r32 = await (await Session.create(compile({ y: y32, gx: gx32! }))).run(feeds);
    const x64 = input("x", [4, 8], "float64");
    const w64 = input("w", [8], "float64");
    const b64 = input("b", [8], "float64");
    const y64 = x64.layerNorm(w64, b64, 1e-5);
    const [gx64] = grad(y64.mul(y64).sum(), [x64]);
    const f64 = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, Float64Array.from(v)]));
    const r64 = await (await Session.create(compile({ y: y64, gx: gx64! }))).run(f64);
    assertClose(r32.y!.data as Float32Array, r64.y!.data as Float64Array, 1e-5, "y");
    assertClose(r32.gx!.data as Float32Array, r64.gx!.data as Float64Array, 1e-4, "dx");
  });
});

/** Direct 2-D convolution in float64: the reference for Conv and for both of its gradients. */
function convRef([n, c, h, wd]: number[], [o, , kh, kw]: number[], s: number, p: number, d: number) {
  const ho = Math.floor((h! + 2 * p - d * (kh! - 1) - 1) / s) + 1;
  const wo = Math.floor((wd! + 2 * p - d * (kw! - 1) - 1) / s) + 1;
  const at = (b: number, ch: number, yy: number, xx: number) => ((b * c! + ch) * h! + yy) * wd! + xx;
  const wat = (oc: number, ch: number, i: number, j: number) => ((oc * c! + ch) * kh! + i) * kw! + j;
  const taps = function* () {
    for (let b = 0; b < n!; b++)
      for (let oc = 0; oc < o!; oc++)
        for (let yy = 0; yy < ho; yy++)
          for (let xx = 0; xx < wo; xx++)
            for (let ch = 0; ch < c!; ch++)
              for (let i = 0; i < kh!; i++)
                for (let j = 0; j < kw!; j++) {
                  const iy = yy * s - p + i * d;
                  const ix = xx * s - p + j * d;
                  if (iy < 0 || ix < 0 || iy >= h! || ix >= wd!) continue;
                  yield [((b * o! + oc) * ho + yy) * wo + xx, at(b, ch, iy, ix), wat(oc, ch, i, j)] as const;
                }
  };
  return { ho, wo, taps };
}

describe("conv2d against a direct float64 convolution", () => {
  const cases = [
    { name: "3×3, stride 1, pad 1", x: [2, 3, 7, 6], w: [4, 3, 3, 3], s: 1, p: 1, d: 1 },
    { name: "3×3, stride 1, no padding", x: [2, 3, 6, 7], w: [2, 3, 3, 3], s: 1, p: 0, d: 1 },
    { name: "5×5, stride 1, pad 2", x: [1, 2, 6, 5], w: [3, 2, 5, 5], s: 1, p: 2, d: 1 },
    { name: "3×3, stride 2, pad 1 (odd size)", x: [2, 2, 9, 8], w: [3, 2, 3, 3], s: 2, p: 1, d: 1 },
    { name: "patchify 4×4, stride 4", x: [2, 3, 8, 8], w: [5, 3, 4, 4], s: 4, p: 0, d: 1 },
    { name: "1×1", x: [1, 4, 5, 5], w: [2, 4, 1, 1], s: 1, p: 0, d: 1 },
    { name: "3×3 dilation 2", x: [1, 2, 9, 9], w: [2, 2, 3, 3], s: 1, p: 2, d: 2 },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const xd = rand(size(c.x), 7);
      const wdata = rand(size(c.w), 8);
      const { ho, wo, taps } = convRef(c.x, c.w, c.s, c.p, c.d);
      const outShape = [c.x[0]!, c.w[0]!, ho, wo];
      const gy = rand(size(outShape), 9);
      const y = new Float64Array(size(outShape));
      const gx = new Float64Array(xd.length);
      const gw = new Float64Array(wdata.length);
      for (const [yi, xi, wi] of taps()) {
        y[yi]! += xd[xi]! * wdata[wi]!;
        gx[xi]! += gy[yi]! * wdata[wi]!;
        gw[wi]! += gy[yi]! * xd[xi]!;
      }
      const x = input("x", c.x);
      const w = input("w", c.w);
      const g = input("gy", outShape);
      const out = conv2d(x, w, { stride: c.s, padding: c.p, dilation: c.d });
      assert.deepEqual(out.shape, outShape);
      const [dx, dw] = grad(out.mul(g).sum(), [x, w]);
      const r = await (await Session.create(compile({ y: out, dx: dx!, dw: dw! }))).run({
        x: xd,
        w: wdata,
        gy,
      });
      assertClose(r.y!.data as Float32Array, y, 1e-5, "y");
      assertClose(r.dx!.data as Float32Array, gx, 1e-5, "dx");
      assertClose(r.dw!.data as Float32Array, gw, 1e-5, "dw");
    });
  }
});

describe("tall products lowered transposed (yᵀ = op(b)ᵀ·aᵀ)", () => {
  // 8192 rows, K = 3N or N = 3K: the transposed lowering applies with contrib ops; without them the plain
  // MatMul runs.
  for (const [k, n] of [
    [96, 32],
    [32, 96],
  ] as const)
    for (const transB of [false, true])
      test(`[2, 4096, ${k}] · ${transB ? `[${n}, ${k}]ᵀ` : `[${k}, ${n}]`} with alpha equals the plain lowering`, async () => {
        const rng = new Rng(9);
        const rows = 2 * 4096;
        const ad = Float32Array.from({ length: rows * k }, () => rng.next() - 0.5);
        const bd = Float32Array.from({ length: k * n }, () => rng.next() - 0.5);
        const a = input("a", [2, 4096, k]);
        const b = input("b", transB ? [n, k] : [k, n]);
        const y = a.matmul(b, { transB, alpha: 0.5 });
        const run = async (contrib: boolean) =>
          (await (await Session.create(compile({ y }, { contrib }))).run({ a: ad, b: bd })).y!
            .data as Float32Array;
        const [fast, plain] = [await run(true), await run(false)];
        assert.equal(fast.length, rows * n);
        let worst = 0;
        for (let i = 0; i < plain.length; i++) worst = Math.max(worst, Math.abs(fast[i]! - plain[i]!));
        assert.ok(worst < 1e-5, `max difference ${worst}`);
        // Spot-check one element against a direct sum.
        const [r, c] = [5000, 7];
        let s = 0;
        for (let j = 0; j < k; j++) s += ad[r * k + j]! * bd[transB ? c * k + j : j * n + c]!;
        assert.ok(Math.abs(fast[r * n + c]! - 0.5 * s) < 1e-5);
      });
});
