/** Every differentiable op against central finite differences in float64 (random shapes, broadcasting). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { concat, constant, conv2d, grad, input, type Tensor, where } from "../../src/engine/index.js";
import { gradcheck } from "./gradcheck.js";

type Case = [
  name: string,
  shapes: number[][],
  f: (...xs: Tensor[]) => Tensor,
  opts?: Parameters<typeof gradcheck>[2],
];

const positive = { range: [0.2, 2] as [number, number] };
const awayFromZero = { avoid: [0] };

const elementwise: Case[] = [
  ["add broadcast [3,4]+[4]", [[3, 4], [4]], (a, b) => a.add(b)],
  [
    "add broadcast [2,1,3]+[4,1]",
    [
      [2, 1, 3],
      [4, 1],
    ],
    (a, b) => a.add(b),
  ],
  [
    "sub broadcast [3,1]-[1,5]",
    [
      [3, 1],
      [1, 5],
    ],
    (a, b) => a.sub(b),
  ],
  [
    "mul broadcast [2,3,4]*[3,1]",
    [
      [2, 3, 4],
      [3, 1],
    ],
    (a, b) => a.mul(b),
  ],
  ["div broadcast [3,4]/[4]", [[3, 4], [4]], (a, b) => a.div(b), positive],
  ["pow [3,4]^[4]", [[3, 4], [4]], (a, b) => a.pow(b), positive],
  ["pow by constant", [[5]], (a) => a.pow(3)],
  ["maximum broadcast", [[3, 4], [4]], (a, b) => a.maximum(b)],
  ["minimum broadcast", [[3, 4], [1]], (a, b) => a.minimum(b)],
  ["neg", [[2, 3]], (a) => a.neg()],
  ["exp", [[2, 3]], (a) => a.exp()],
  ["log", [[2, 3]], (a) => a.log(), positive],
  ["sqrt", [[2, 3]], (a) => a.sqrt(), positive],
  ["rsqrt", [[2, 3]], (a) => a.rsqrt(), positive],
  ["reciprocal", [[2, 3]], (a) => a.reciprocal(), positive],
  ["tanh", [[2, 3]], (a) => a.tanh()],
  ["abs", [[2, 3]], (a) => a.abs(), awayFromZero],
  ["relu", [[4, 3]], (a) => a.relu(), awayFromZero],
  ["sigmoid", [[2, 3]], (a) => a.sigmoid()],
  ["hardSigmoid (both clamps reached)", [[4, 5]], (a) => a.hardSigmoid(0.5, 0.4), { avoid: [-0.8, 1.2] }],
  ["gelu tanh form", [[3, 5]], (a) => a.gelu("tanh")],
  ["quickGelu", [[3, 5]], (a) => a.quickGelu()],
  ["clip", [[4, 5]], (a) => a.clip(-0.5, 0.7), { avoid: [-0.5, 0.7] }],
  ["clip max only", [[4, 5]], (a) => a.clip(undefined, 0.3), { avoid: [0.3] }],
  ["square", [[3]], (a) => a.square()],
  [
    "detach: gradient flows only through the attached factor",
    [[3]],
    (a) => a.mul(a.detach().add(0)).sub(a.detach().mul(a)).add(a),
  ],
  ["shared input accumulates", [[3, 2]], (a) => a.mul(a).add(a.exp()).mul(a)],
  [
    "where broadcast",
    [[3, 4], [4], [3, 1]],
    (c, a, b) => where(c.gt(0), a, b),
    {
      fixed: { 0: { data: Float64Array.from({ length: 12 }, (_, i) => Math.sin(i * 7)), dtype: "float64" } },
    },
  ],
];

const linalg: Case[] = [
  [
    "matmul 2d",
    [
      [3, 4],
      [4, 5],
    ],
    (a, b) => a.matmul(b),
  ],
  [
    "matmul batched × weight",
    [
      [2, 3, 4],
      [4, 5],
    ],
    (a, b) => a.matmul(b),
  ],
  [
    "matmul batched × weightᵀ",
    [
      [2, 3, 4],
      [5, 4],
    ],
    (a, b) => a.matmul(b, { transB: true }),
  ],
  [
    "split into three, all parts used",
    [[2, 6, 3]],
    (x) => {
      const [a, b, c] = x.split(1, 3) as [Tensor, Tensor, Tensor];
      return a.mul(b.exp()).add(c.square());
    },
  ],
  ["split, one part unused", [[4, 2]], (x) => x.split(0, 2)[1]!.tanh()],
  ["linear 2d with bias", [[3, 4], [5, 4], [5]], (x, w, b) => x.linear(w, b)],
  ["linear 4× expanding (bias added apart)", [[2, 3, 2], [8, 2], [8]], (x, w, b) => x.linear(w, b)],
  ["linear 2d 4× expanding", [[3, 2], [8, 2], [8]], (x, w, b) => x.linear(w, b)],
  ["linear batched with bias", [[2, 3, 4], [5, 4], [5]], (x, w, b) => x.linear(w, b)],
  [
    "linear narrowing (weight gradient as xᵀ·g, transposed)",
    [[2, 3, 6], [4, 6], [4]],
    (x, w, b) => x.linear(w, b),
  ],
  [
    "linear batched without bias",
    [
      [2, 3, 4],
      [5, 4],
    ],
    (x, w) => x.linear(w),
  ],
  [
    "matmul batched × batched",
    [
      [2, 3, 4],
      [2, 4, 5],
    ],
    (a, b) => a.matmul(b),
  ],
  [
    "matmul broadcast batch",
    [
      [2, 1, 3, 4],
      [3, 4, 5],
    ],
    (a, b) => a.matmul(b),
  ],
  [
    "matmul transA",
    [
      [2, 4, 3],
      [2, 4, 5],
    ],
    (a, b) => a.matmul(b, { transA: true }),
  ],
  [
    "matmul transA transB",
    [
      [4, 3],
      [5, 4],
    ],
    (a, b) => a.matmul(b, { transA: true, transB: true }),
  ],
  [
    "matmul weight × batched",
    [
      [3, 4],
      [2, 4, 5],
    ],
    (a, b) => a.matmul(b),
  ],
  [
    "matmul with alpha",
    [
      [2, 3, 4],
      [2, 5, 4],
    ],
    (a, b) => a.matmul(b, { transB: true, alpha: 0.125 }),
  ],
  [
    "matmul weightᵀ with alpha",
    [
      [2, 3, 4],
      [5, 4],
    ],
    (a, b) => a.matmul(b, { transB: true, alpha: 0.5 }),
  ],
];

const reductions: Case[] = [
  ["sum all", [[3, 4]], (a) => a.sum()],
  ["sum axis 1 keepdims", [[3, 4, 2]], (a) => a.sum(1, true)],
  ["sum axes [0,2]", [[3, 4, 2]], (a) => a.sum([0, 2])],
  ["mean axis -1", [[3, 4]], (a) => a.mean(-1)],
  ["mean axes [0,1] keepdims", [[3, 4, 2]], (a) => a.mean([0, 1], true)],
  ["max axis 1", [[3, 5]], (a) => a.max(1)],
  ["max all", [[3, 5]], (a) => a.max()],
  ["softmax last axis", [[3, 5]], (a) => a.softmax(-1)],
  ["softmax axis 0", [[3, 5]], (a) => a.softmax(0)],
  ["logSoftmax last axis", [[2, 3, 5]], (a) => a.logSoftmax(-1)],
  ["logSoftmax axis 1", [[2, 3, 5]], (a) => a.logSoftmax(1)],
];

const shapeOps: Case[] = [
  ["reshape", [[2, 6]], (a) => a.reshape([3, 4]).mul(a.reshape([3, 4]))],
  ["reshape with -1", [[2, 3, 4]], (a) => a.reshape([-1, 4]).exp()],
  ["transpose", [[2, 3, 4]], (a) => a.transpose([2, 0, 1]).exp()],
  ["T", [[3, 4]], (a) => a.T.matmul(a)],
  ["expand", [[3, 1]], (a) => a.expand([2, 3, 4]).exp()],
  ["slice", [[4, 5]], (a) => a.slice(1, 1, 4).exp()],
  [
    "concat",
    [
      [2, 3],
      [2, 2],
    ],
    (a, b) => concat([a, b, a], 1).exp(),
  ],
  ["unsqueeze/squeeze/flatten", [[2, 3, 4]], (a) => a.unsqueeze(1).flatten(2).squeeze(1).exp()],
];

for (const [group, cases] of Object.entries({ elementwise, linalg, reductions, shapeOps })) {
  describe(`gradients: ${group}`, () => {
    for (const [name, shapes, f, opts] of cases) {
      test(name, async () => {
        await gradcheck(shapes, f, opts);
      });
    }
  });
}

describe("gradients: indexing and normalization", () => {
  test("gather rows (embedding lookup) with repeated indices", async () => {
    const idx = BigInt64Array.from([2n, 0n, 2n, 3n, 2n, 1n]);
    await gradcheck(
      [
        [5, 3],
        [2, 3],
      ],
      (table, i) => table.gather(i).exp(),
      {
        fixed: { 1: { data: idx, dtype: "int64" } },
      },
    );
  });

  test("gather with int32 indices", async () => {
    const idx = Int32Array.from([1, 1, 0]);
    await gradcheck([[4, 2], [3]], (table, i) => table.gather(i).square(), {
      fixed: { 1: { data: idx, dtype: "int32" } },
    });
  });

  test("layerNorm (input, gain and bias)", async () => {
    await gradcheck([[2, 3, 6], [6], [6]], (x, w, b) => x.layerNorm(w, b, 1e-5));
  });

  test("where with a constant condition", async () => {
    const cond = constant([1, 0, 1, 0, 0, 1], [2, 3], "bool");
    await gradcheck([[2, 3], [3]], (a, b) => where(cond, a, b).exp());
  });
});

test("gradcheck itself rejects a wrong gradient (x·detach(x) looks like x² to finite differences)", async () => {
  await assert.rejects(
    gradcheck([[3]], (a) => a.mul(a.detach()), { seed: 3 }),
    /relative error/,
  );
});

describe("grad raises where a gradient reaches an op without a gradient rule", () => {
  test("inference-only attention in a loss names the op and this file's line", () => {
    const x = input("x", [2, 5, 8]);
    const w = input("w", [24, 8]);
    const b = input("b", [24]);
    const loss = x.attention(w, b, { heads: 2 }).square().sum();
    assert.throws(
      () => grad(loss, [w]),
      (e: Error) => {
        assert.match(e.message, /grad: op 'attention' has no gradient rule/);
        assert.match(e.message, /grad\.test\.(ts|js):\d+/);
        return true;
      },
    );
  });

  test("a second derivative through conv2d (its gradient ops are first order only)", () => {
    const x = input("x", [1, 2, 5, 5]);
    const w = input("w", [3, 2, 3, 3]);
    const [gx] = grad(conv2d(x, w).square().sum(), [x]);
    assert.throws(
      () => grad((gx as Tensor).square().sum(), [w]),
      /grad: op 'convInputGrad' has no gradient rule/,
    );
  });

  test("ops with integer or boolean results stop the gradient without error", () => {
    const x = input("x", [3, 4]);
    const picked = x
      .argmax(1)
      .unsqueeze(1)
      .eq(constant([0, 1, 2, 3], [1, 4], "int64"))
      .cast("float32");
    const [g] = grad(
      picked
        .mul(x)
        .sum()
        .add(where(x.gt(0), x, 0).sum()),
      [x],
    );
    assert.deepEqual(g?.shape, [3, 4]);
  });
});
