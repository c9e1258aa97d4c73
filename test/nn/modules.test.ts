/** Modules: parameter naming, seeded init, attention against a direct computation, norms, dropout. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compile, constant, input, Session, type Tensor } from "../../src/engine/index.js";
import { Rng } from "../../src/engine/random.js";
import {
  BatchNorm2d,
  bind,
  crossEntropy,
  dropout,
  Linear,
  l2Normalize,
  logSumExp,
  MLP,
  Module,
  MultiheadAttention,
  stateDict,
} from "../../src/nn/index.js";
import { gradcheck } from "../engine/gradcheck.js";

class Tower extends Module {
  stem = new Linear(3, 4);
  blocks = [new MLP(4, 8), new MLP(4, 8)];
  head = new Linear(4, 2, { bias: false });
}

describe("module tree", () => {
  test("dotted parameter names in field order", () => {
    const names = new Tower().parameters().map((p) => p.name);
    assert.deepEqual(names, [
      "stem.weight",
      "stem.bias",
      "blocks.0.fc1.weight",
      "blocks.0.fc1.bias",
      "blocks.0.fc2.weight",
      "blocks.0.fc2.bias",
      "blocks.1.fc1.weight",
      "blocks.1.fc1.bias",
      "blocks.1.fc2.weight",
      "blocks.1.fc2.bias",
      "head.weight",
    ]);
  });

  test("seeded init: same seed same values, by name not order; decay flags", () => {
    const a = stateDict(new Tower().initialize(5));
    const b = stateDict(new Tower().initialize(5));
    const c = stateDict(new Tower().initialize(6));
    assert.deepEqual(a.get("blocks.1.fc2.weight"), b.get("blocks.1.fc2.weight"));
    assert.notDeepEqual(a.get("head.weight"), c.get("head.weight"));
    assert.notDeepEqual(a.get("blocks.0.fc1.weight"), a.get("blocks.1.fc1.weight"));
    const bound = 1 / Math.sqrt(3);
    assert.ok(a.get("stem.weight")!.every((v) => Math.abs(v) <= bound));
    const t = new Tower();
    assert.deepEqual(
      t
        .parameters()
        .filter((p) => !p.decay)
        .map((p) => p.name),
      ["stem.bias", "blocks.0.fc1.bias", "blocks.0.fc2.bias", "blocks.1.fc1.bias", "blocks.1.fc2.bias"],
    );
  });
});

describe("attention", () => {
  for (const causal of [false, true])
    test(`eval mode (fused Attention kernel, and its standard-ONNX form) equals the training composite${causal ? ", causal" : ""}`, async () => {
      const [B, T, D, H] = [3, 7, 12, 3];
      const attn = new MultiheadAttention(D, H, causal).initialize(5);
      const rng = new Rng(2);
      for (const p of attn.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = rng.next() - 0.5;
      const xd = Float32Array.from({ length: B * T * D }, () => rng.next() * 2 - 1);
      const run = async (training: boolean, contrib: boolean) => {
        attn.train(training);
        bind(attn);
        const y = attn.forward(input("x", ["batch", T, D]));
        const s = await Session.create(compile({ y }, { contrib, freeze: stateDict(attn) }));
        return (await s.run({ x: { data: xd, dims: [B, T, D] } })).y!.data as Float32Array;
      };
      const composite = await run(true, true);
      for (const contrib of [true, false]) {
        const fused = await run(false, contrib);
        for (let i = 0; i < composite.length; i++)
          assert.ok(Math.abs(fused[i]! - composite[i]!) < 1e-5, `contrib ${contrib}: element ${i}`);
      }
    });

  test("matches a direct computation (causal, 2 heads)", async () => {
    const [B, T, D, H] = [2, 5, 8, 2];
    const attn = new MultiheadAttention(D, H, true).initialize(3);
    const rng = new Rng(1);
    for (const p of attn.parameters())
      if (p.name.endsWith("bias")) for (let i = 0; i < p.size; i++) p.data[i] = rng.next() - 0.5;
    bind(attn);
    const x = input("x", [B, T, D]);
    const y = attn.forward(x);
    const xd = Float32Array.from({ length: B * T * D }, () => rng.next() * 2 - 1);
    const feeds = Object.fromEntries([...stateDict(attn)].map(([k, v]) => [k, v]));
    const r = await (await Session.create(compile({ y }))).run({ ...feeds, x: xd });
    // Reference.
    const W = attn.in_proj_weight.data;
    const bias = attn.in_proj_bias.data;
    const Wo = attn.out_proj.weight.data;
    const bo = attn.out_proj.bias!.data;
    const dh = D / H;
    const proj = (b: number, t: number, row: number) => {
      let s = bias[row]!;
      for (let c = 0; c < D; c++) s += W[row * D + c]! * xd[(b * T + t) * D + c]!;
      return s;
    };
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const ctx = new Float64Array(D);
        for (let h = 0; h < H; h++) {
          const scores: number[] = [];
          for (let u = 0; u <= t; u++) {
            let s = 0;
            for (let e = 0; e < dh; e++) s += proj(b, t, h * dh + e) * proj(b, u, D + h * dh + e);
            scores.push(s / Math.sqrt(dh));
          }
          const m = Math.max(...scores);
          const w = scores.map((s) => Math.exp(s - m));
          const z = w.reduce((p, q) => p + q, 0);
          for (let u = 0; u <= t; u++) {
            for (let e = 0; e < dh; e++) ctx[h * dh + e]! += (w[u]! / z) * proj(b, u, 2 * D + h * dh + e);
          }
        }
        for (let o = 0; o < D; o++) {
          let s = bo[o]!;
          for (let c = 0; c < D; c++) s += Wo[o * D + c]! * ctx[c]!;
          const got = r.y!.data[(b * T + t) * D + o] as number;
          assert.ok(Math.abs(got - s) < 1e-5, `y[${b},${t},${o}] = ${got}, expected ${s}`);
        }
      }
    }
  });

  // A one-hot selection per example (as the text tower's end-of-text pool) and the first token (ViT's).
  const [PB, PT] = [3, 6];
  const positions = [5, 0, 3];
  const oneHot = (dtype: "float32" | "float64") => {
    const m = dtype === "float64" ? new Float64Array(PB * PT) : new Float32Array(PB * PT);
    positions.forEach((p, b) => {
      m[b * PT + p] = 1;
    });
    return constant(m, [PB, PT, 1], dtype);
  };
  const pools = {
    "one-hot": (t: Tensor) =>
      oneHot(t.dtype as "float32")
        .mul(t)
        .sum(1),
    "first token": (t: Tensor) => t.slice(1, 0, 1).squeeze(1),
  };
  for (const causal of [false, true])
    for (const [poolName, pool] of Object.entries(pools))
      for (const training of [true, false])
        test(`attendPooled equals the pooled rows of attend (${poolName} pool${causal ? ", causal" : ""}, ${training ? "training" : "eval"})`, async () => {
          const D = 8;
          const attn = new MultiheadAttention(D, 2, causal).initialize(4);
          const rng = new Rng(6);
          for (const p of attn.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = rng.next() - 0.5;
          attn.train(training);
          bind(attn);
          const x = input("x", [PB, PT, D]);
          const s = await Session.create(
            compile(
              { full: pool(attn.attend(x)), pooled: attn.attendPooled(x, pool) },
              { freeze: stateDict(attn) },
            ),
          );
          const xd = Float32Array.from({ length: PB * PT * D }, () => rng.next() * 2 - 1);
          const r = await s.run({ x: xd });
          const [full, pooled] = [r.full!.data as Float32Array, r.pooled!.data as Float32Array];
          assert.equal(pooled.length, PB * D);
          for (let i = 0; i < full.length; i++)
            assert.ok(Math.abs(full[i]! - pooled[i]!) < 1e-5, `element ${i}: ${pooled[i]} vs ${full[i]}`);
        });

  test("attendPooled gradients (float64 finite differences, causal, one-hot pool)", async () => {
    const attn = new MultiheadAttention(6, 3, true);
    const params = [attn.in_proj_weight, attn.in_proj_bias]; // the output projection comes after
    const pool = (t: Tensor) => {
      const m = new Float64Array(2 * 4);
      m[0 * 4 + 2] = 1;
      m[1 * 4 + 3] = 1;
      return constant(m, [2, 4, 1], "float64").mul(t).sum(1);
    };
    await gradcheck([[2, 4, 6], ...params.map((p) => [...p.shape])], (x, ...ps) => {
      for (const [i, p] of params.entries()) p.value = ps[i]!;
      return attn.attendPooled(x!, pool);
    });
  });

  test("gradients of the whole block (float64 finite differences)", async () => {
    const attn = new MultiheadAttention(6, 3, true);
    const params = attn.parameters();
    await gradcheck([[2, 4, 6], ...params.map((p) => [...p.shape])], (x, ...ps) => {
      for (const [i, p] of params.entries()) p.value = ps[i]!;
      return attn.forward(x!);
    });
  });
});

describe("functional", () => {
  test("l2Normalize, logSumExp, crossEntropy gradients", async () => {
    await gradcheck([[3, 5]], (x) => l2Normalize(x));
    await gradcheck([[3, 5]], (x) => logSumExp(x, -1));
    await gradcheck([[4, 3], [4]], (logits, y) => crossEntropy(logits!, y!), {
      fixed: { 1: { data: BigInt64Array.from([0n, 2n, 1n, 2n]), dtype: "int64" } },
    });
  });

  test("crossEntropy value", async () => {
    const logits = input("l", [2, 3]);
    const y = input("y", [2], "int64");
    const r = await (await Session.create(compile({ ce: crossEntropy(logits, y) }))).run({
      l: Float32Array.from([1, 2, 3, 0, 0, 0]),
      y: BigInt64Array.from([2n, 1n]),
    });
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const want = (lse - 3 + Math.log(3)) / 2;
    assert.ok(Math.abs((r.ce!.data[0] as number) - want) < 1e-6);
  });

  test("dropout: drop rate, scaling, mask shared by value and gradient, identity in eval", async () => {
    const x = input("x", [20000]);
    const y = dropout(x, 0.3, 11, true);
    const [g] = (await import("../../src/engine/index.js")).grad(y.sum(), [x]);
    const s = await Session.create(compile({ y, g: g! }));
    const r = await s.run({ x: new Float32Array(20000).fill(1) }, { step: 4 });
    const yd = r.y!.data as Float32Array;
    const zeros = yd.filter((v) => v === 0).length / yd.length;
    assert.ok(Math.abs(zeros - 0.3) < 0.02, `drop rate ${zeros}`);
    assert.ok(yd.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6));
    assert.deepEqual(r.g!.data, r.y!.data);
    assert.equal(dropout(x, 0.3, 11, false), x);
  });
});

describe("batch norm", () => {
  test("training normalizes per channel and updates running stats as PyTorch", async () => {
    const bn = new BatchNorm2d(2, 1e-5, 0.1).initialize(0);
    bind(bn);
    const x = input("x", [3, 2, 2, 2]);
    const y = bn.forward(x);
    const xd = Float32Array.from(
      { length: 24 },
      (_, i) => (i % 8) * (i < 12 ? 1 : 2) + (i >= 4 && i % 8 >= 4 ? 5 : 0),
    );
    const s = await Session.create(compile({ y, rm: bn.runningMean.next!, rv: bn.runningVar.next! }));
    const r = await s.run({ x: xd, ...Object.fromEntries(stateDict(bn)) });
    for (let c = 0; c < 2; c++) {
      const vals: number[] = [];
      const ys: number[] = [];
      for (let n = 0; n < 3; n++)
        for (let i = 0; i < 4; i++) {
          vals.push(xd[(n * 2 + c) * 4 + i]!);
          ys.push(r.y!.data[(n * 2 + c) * 4 + i] as number);
        }
      const mean = vals.reduce((a, b) => a + b, 0) / 12;
      const varB = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / 12;
      const ym = ys.reduce((a, b) => a + b, 0) / 12;
      assert.ok(Math.abs(ym) < 1e-5);
      assert.ok(Math.abs((r.rm!.data[c] as number) - 0.1 * mean) < 1e-5);
      assert.ok(Math.abs((r.rv!.data[c] as number) - (0.9 + (0.1 * (varB * 12)) / 11)) < 1e-4);
    }
  });

  test("training-mode gradients (float64)", async () => {
    const bn = new BatchNorm2d(2);
    bn.runningMean.value = input("rm", [2], "float64");
    bn.runningVar.value = input("rv", [2], "float64");
    await gradcheck([[3, 2, 2, 2], [2], [2]], (x, w, b) => {
      bn.weight.value = w!;
      bn.bias.value = b!;
      return bn.forward(x!);
    });
  });
});
