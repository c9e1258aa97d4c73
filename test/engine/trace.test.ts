/** Tracing: shape errors at trace time, symbolic batch dims, compile and run edge cases, random ops. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compile, input, random, Session, ShapeError } from "../../src/engine/index.js";

describe("shape errors are raised while tracing", () => {
  test("matmul mismatch names the op, the shapes and this file's line", () => {
    const a = input("a", [2, 3]);
    const b = input("b", [4, 5]);
    assert.throws(
      () => a.matmul(b),
      (e: Error) => {
        assert.ok(e instanceof ShapeError);
        assert.match(e.message, /matmul: inner dimensions differ: \[2, 3\] × \[4, 5\] \(3 vs 4\)/);
        assert.match(e.message, /op: matmul\(\[2, 3\] float32, \[4, 5\] float32\)/);
        assert.match(e.message, /trace\.test\.(ts|js):\d+/);
        return true;
      },
    );
  });

  test("broadcast mismatch", () => {
    assert.throws(
      () => input("a", [3, 4]).add(input("b", [5])),
      /add: shapes \[3, 4\] and \[5\] do not broadcast/,
    );
  });

  test("dtype mismatch", () => {
    assert.throws(() => input("a", [3]).add(input("b", [3], "float64")), /add: dtypes differ/);
  });

  test("reshape element count", () => {
    assert.throws(
      () => input("a", [2, 3]).reshape([4, 2]),
      /cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\]/,
    );
  });

  test("bad axis", () => {
    assert.throws(() => input("a", [2, 3]).sum(2), /axis 2 is out of range for rank 2/);
  });

  test("layerNorm gain shape", () => {
    const x = input("x", [2, 8]);
    assert.throws(() => x.layerNorm(input("w", [4]), input("b", [8])), /gain\/bias \[4\] must be \[8\]/);
  });

  test("duplicate input names are caught at compile", () => {
    const y = input("x", [2]).add(input("x", [2]));
    assert.throws(() => compile({ y }), /two different inputs are named 'x'/);
  });
});

describe("symbolic batch dimension", () => {
  test("a weight expanded to the symbolic batch (a class token) reads the batch from the input's shape", async () => {
    const x = input("x", ["batch", 2, 3]);
    const cls = input("cls", [3]);
    const tokens = cls.reshape([1, 1, 3]).expand(["batch", 1, 3]);
    const y = tokens.add(x.sum(1, true)).mul(2);
    assert.deepEqual(y.shape, ["batch", 1, 3]);
    const s = await Session.create(compile({ y }, { freeze: { cls: new Float32Array([1, 2, 3]) } }));
    for (const n of [1, 4]) {
      const r = await s.run({ x: new Float32Array(n * 6).fill(1) });
      assert.deepEqual(r.y!.dims, [n, 1, 3]);
      assert.deepEqual(
        Array.from(r.y!.data as Float32Array),
        Array.from({ length: n * 3 }, (_, i) => 2 * (2 + 1 + (i % 3))),
      );
    }
  });

  test("shapes propagate through reshape/matmul and run at any batch size", async () => {
    const x = input("x", ["batch", 4, 3]);
    const w = input("w", [3, 2]);
    const y = x.matmul(w).reshape(["batch", 8]).sum(1);
    assert.deepEqual(y.shape, ["batch"]);
    assert.deepEqual(x.flatten(0, 1).shape, ["batch*4", 3]);
    const s = await Session.create(compile({ y }, { freeze: { w: new Float32Array([1, 0, 0, 1, 1, 1]) } }));
    for (const n of [1, 3]) {
      const xd = Float32Array.from({ length: n * 12 }, (_, i) => i);
      const r = await s.run({ x: xd });
      assert.deepEqual(r.y!.dims, [n]);
      // Row b: sum over 4 tokens of (x0 + x2) + (x1 + x2).
      for (let b = 0; b < n; b++) {
        let want = 0;
        for (let t = 0; t < 4; t++) {
          const o = b * 12 + t * 3;
          want += xd[o]! + xd[o + 2]! + xd[o + 1]! + xd[o + 2]!;
        }
        assert.equal(r.y!.data[b], want);
      }
    }
  });

  test("bad feeds are clear errors", async () => {
    const s = await Session.create(compile({ y: input("x", [2, 3]).exp() }));
    await assert.rejects(s.run({}), /missing input 'x' \[2, 3\] float32/);
    await assert.rejects(s.run({ x: new Float32Array(5) }), /'x' has 5 values/);
    await assert.rejects(s.run({ x: new Float64Array(6) }), /must be a Float32Array/);
    await assert.rejects(s.run({ x: new Float32Array(6), z: new Float32Array(1) }), /no input 'z'/);
  });
});

describe("random ops", () => {
  test("seeded, fresh per step, reproducible for the same step", async () => {
    const u = random([10000], { seed: 7 });
    const nrm = random([10000], { seed: 7, distribution: "normal" });
    const s = await Session.create(compile({ u: u.mul(1), n: nrm.mul(1) }));
    const a = await s.run({}, { step: 0 });
    const b = await s.run({}, { step: 1 });
    const c = await s.run({}, { step: 0 });
    assert.deepEqual(a.u!.data, c.u!.data);
    assert.notDeepEqual(a.u!.data, b.u!.data);
    const ud = a.u!.data as Float32Array;
    const mean = ud.reduce((p, v) => p + v, 0) / ud.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02, `uniform mean ${mean}`);
    assert.ok(ud.every((v) => v >= 0 && v < 1));
    const nd = a.n!.data as Float32Array;
    const nm = nd.reduce((p, v) => p + v, 0) / nd.length;
    const nv = nd.reduce((p, v) => p + (v - nm) ** 2, 0) / nd.length;
    assert.ok(Math.abs(nm) < 0.05 && Math.abs(nv - 1) < 0.05, `normal mean ${nm} var ${nv}`);
  });
});
