/** Optimizers against their update formulas computed step by step in float64. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Parameter } from "../../src/nn/module.js";
import { AdamW, clipScale, emaUpdate, globalNorm, SGD, warmupCosine } from "../../src/optim/index.js";

function param(name: string, values: number[], decay: boolean): Parameter {
  const p = new Parameter([values.length], { kind: "zeros" }, decay);
  p.name = name;
  p.data.set(values);
  return p;
}

describe("AdamW", () => {
  for (const simd of [true, false])
    test(`three steps match the formula; decay only where flagged; state round trip (${simd ? "SIMD" : "JS"} kernel)`, () => {
      const w = param("w", [0.5, -1.5], true);
      const b = param("b", [0.25], false);
      const opt = new AdamW([w, b], { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.2, simd });
      assert.equal(opt.kernel, simd ? "wasm-simd" : "js");
      const grads = [
        [Float32Array.from([0.1, -0.3]), Float32Array.from([2])],
        [Float32Array.from([-0.2, 0.1]), Float32Array.from([-1])],
        [Float32Array.from([0.05, 0.4]), Float32Array.from([0.5])],
      ];
      const ref = { x: [0.5, -1.5, 0.25], m: [0, 0, 0], v: [0, 0, 0] };
      grads.forEach((g, t) => {
        const lr = 0.01 * (t + 1);
        opt.update(g, lr);
        const flat = [...g[0]!, ...g[1]!];
        for (let i = 0; i < 3; i++) {
          ref.m[i] = 0.9 * ref.m[i]! + 0.1 * flat[i]!;
          ref.v[i] = 0.98 * ref.v[i]! + 0.02 * flat[i]! ** 2;
          const mhat = ref.m[i]! / (1 - 0.9 ** (t + 1));
          const vhat = ref.v[i]! / (1 - 0.98 ** (t + 1));
          const decay = i < 2 ? 1 - lr * 0.2 : 1;
          ref.x[i] = ref.x[i]! * decay - (lr * mhat) / (Math.sqrt(vhat) + 1e-6);
        }
      });
      const got = [...w.data, ...b.data];
      for (const [i, v] of got.entries())
        assert.ok(Math.abs(v - ref.x[i]!) < 1e-6, `param ${i}: ${v} vs ${ref.x[i]}`);
      const copy = new AdamW([param("w", [0, 0], true), param("b", [0], false)]);
      copy.loadState(opt.state());
      assert.deepEqual(copy.state(), opt.state());
    });

  test("the SIMD kernel equals the JS loop to float32 rounding: odd sizes, several chunks, 5 steps", () => {
    const sizes = [1, 3, 5, 16384 + 7, 40000];
    const make = () =>
      sizes.map((n, k) =>
        param(
          `p${k}`,
          Array.from({ length: n }, (_, i) => Math.sin(i + k)),
          k % 2 === 0,
        ),
      );
    const [a, b] = [make(), make()];
    const simd = new AdamW(a, { weightDecay: 0.1 });
    const js = new AdamW(b, { weightDecay: 0.1, simd: false });
    for (let t = 0; t < 5; t++) {
      const grads = sizes.map((n, k) =>
        Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.37 + k + t)),
      );
      simd.update(grads, 1e-2 * (t + 1), 0.7);
      js.update(grads, 1e-2 * (t + 1), 0.7);
    }
    a.forEach((p, k) => {
      for (let i = 0; i < p.size; i++)
        assert.ok(
          Math.abs(p.data[i]! - b[k]!.data[i]!) < 2e-6,
          `param ${k}[${i}]: ${p.data[i]} vs ${b[k]!.data[i]}`,
        );
    });
    const [sm, jm] = [simd.state(), js.state()];
    for (const [name, t] of Object.entries(jm.tensors))
      for (let i = 0; i < t.length; i++)
        assert.ok(Math.abs(sm.tensors[name]![i]! - t[i]!) < 1e-6, `${name}[${i}]`);
  });

  test("gradient scale folds clipping into the update", () => {
    const a = param("a", [1], true);
    const b = param("a", [1], true);
    new AdamW([a]).update([Float32Array.from([4])], 0.1, 0.5);
    new AdamW([b]).update([Float32Array.from([2])], 0.1);
    assert.equal(a.data[0], b.data[0]);
  });
});

describe("SGD", () => {
  test("momentum and nesterov follow PyTorch's form", () => {
    for (const nesterov of [false, true]) {
      const p = param("p", [1], true);
      const opt = new SGD([p], { momentum: 0.9, weightDecay: 0.1, nesterov });
      let x = 1;
      let buf = 0;
      [0.5, -0.25, 1].forEach((g, t) => {
        opt.update([Float32Array.from([g])], 0.1);
        const d = g + 0.1 * x;
        buf = t === 0 ? d : 0.9 * buf + d;
        x -= 0.1 * (nesterov ? d + 0.9 * buf : buf);
      });
      assert.ok(Math.abs(p.data[0]! - x) < 1e-6);
    }
  });
});

describe("schedule, clipping, EMA", () => {
  test("warmup then cosine", () => {
    const s = (step: number) => warmupCosine(step, { lr: 1, warmup: 10, total: 110 });
    assert.equal(s(0), 0.1);
    assert.equal(s(9), 1);
    assert.equal(s(10), 1);
    assert.ok(Math.abs(s(60) - 0.5) < 1e-12);
    assert.ok(s(110) < 1e-12);
    assert.ok(s(200) < 1e-12);
  });

  test("global-norm clipping scale", () => {
    const grads = [Float32Array.from([3]), Float32Array.from([4])];
    assert.equal(globalNorm(grads), 5);
    assert.ok(Math.abs(clipScale(5, 1) - 0.2) < 1e-6);
    assert.equal(clipScale(0.5, 1), 1);
    assert.equal(clipScale(5, undefined), 1);
  });

  test("EMA", () => {
    const t = param("t", [1, 2], true);
    const s = param("s", [3, 4], true);
    emaUpdate([t], [s], 0.9);
    assert.ok(Math.abs(t.data[0]! - 1.2) < 1e-6 && Math.abs(t.data[1]! - 2.2) < 1e-6);
  });
});
