/**
 * Triplet margin loss and the in-graph miners: PyTorch fixtures, hand-computed triplets, one compiled
 * graph serving different label batches, float32 edge cases, gradient check.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { constant } from "../../src/engine/index.js";
import {
  type Distance,
  distance,
  mineTriplets,
  type TripletMiner,
  tripletMarginLoss,
} from "../../src/losses/index.js";
import { gradcheck } from "../engine/gradcheck.js";
import {
  assertClose,
  assertFinite,
  type Build,
  checkFixture,
  Evaluator,
  evaluate,
  type FixtureCase,
  fixtures,
  rows,
} from "./run.js";

const buildFor =
  (c: FixtureCase): Build =>
  (t, labels) =>
    tripletMarginLoss(t.x!, labels!, {
      margin: c.opts.margin as number,
      distance: c.opts.distance as Distance,
      normalize: c.opts.normalize as boolean,
      miner: c.opts.miner as TripletMiner,
      minerMargin: c.opts.minerMargin as number | undefined,
    }).loss;

describe("tripletMarginLoss vs PyTorch", () => {
  for (const c of fixtures("triplet")) test(c.name, () => checkFixture(c, buildFor(c)));
});

describe("tripletMarginLoss by hand", () => {
  // 1-D points 0, 2, 2.2 with labels 0, 0, 1, unnormalized L2, margin 0.5:
  //   (a=0, p=1, n=2): 2 − 2.2 + 0.5 = 0.3   (semi-hard: the negative is farther, within the margin)
  //   (a=1, p=0, n=2): 2 − 0.2 + 0.5 = 2.3   (hard: the negative is closer than the positive)
  const x = rows([[0], [2], [2.2]]);
  const expected: Record<TripletMiner, [loss: number, active: number]> = {
    all: [1.3, 2],
    hard: [2.3, 1],
    semihard: [0.3, 1],
    batch_hard: [1.3, 2],
  };
  for (const [miner, [loss, active]] of Object.entries(expected)) {
    test(miner, async () => {
      const opts = { margin: 0.5, normalize: false, miner: miner as TripletMiner };
      const got = await evaluate({ x }, [0, 0, 1], (t, l) => tripletMarginLoss(t.x!, l!, opts).loss, ["x"]);
      assertClose([got.loss], [loss], "loss", 1e-12);
      const count = await evaluate({ x }, [0, 0, 1], (t, l) => tripletMarginLoss(t.x!, l!, opts).active, []);
      assert.equal(count.loss, active);
    });
  }

  test("the semi-hard and hard masks hold exactly (0, 1, 2) and (1, 0, 2)", async () => {
    // Σ mask·(flat index) + 1000·Σ mask: the index of the single selected triplet, plus 1000 per triplet.
    const index = constant(
      Float64Array.from({ length: 27 }, (_, i) => i),
      [3, 3, 3],
      "float64",
    );
    const probe = (kind: "hard" | "semihard") =>
      evaluate(
        { x },
        [0, 0, 1],
        (t, l) => {
          const mask = mineTriplets(distance(t.x!, t.x!), l!, kind, 0.5).cast("float64");
          return mask.mul(index).sum().add(mask.sum().mul(1000));
        },
        [],
      );
    assert.equal((await probe("semihard")).loss, 1000 + (0 * 9 + 1 * 3 + 2));
    assert.equal((await probe("hard")).loss, 1000 + (1 * 9 + 0 * 3 + 2));
  });
});

test("one compiled graph mines whatever labels each batch brings", async () => {
  const cases = fixtures("triplet");
  const withLabels = cases.find((c) => c.name === "triplet l2 all")!;
  const distinct = cases.find((c) => c.name === "triplet all labels distinct all")!;
  const oneLabel = cases.find((c) => c.name === "triplet one label all")!;
  assert.deepEqual(withLabels.inputs, distinct.inputs);
  const ev = await Evaluator.create({ x: [7, 3] }, 7, buildFor(withLabels), ["x"]);
  try {
    for (const c of [withLabels, distinct, oneLabel, withLabels]) {
      const got = await ev.run({ x: c.inputs.x!.data }, c.labels);
      assertClose([got.loss], [c.loss], `${c.name}: loss`);
      assertClose(got.grads.x!, c.grads.x!.data, `${c.name}: gradient`);
    }
  } finally {
    await ev.release();
  }
});

describe("tripletMarginLoss in float32 (contrib ops) stays finite on degenerate batches", () => {
  const same = {
    shape: [6, 4],
    data: Array.from({ length: 24 }, (_, i) => [0.3, -1.2, 0.5, 2][i % 4] as number),
  };
  for (const miner of ["all", "hard", "semihard", "batch_hard"] as const) {
    test(`all-equal embeddings, ${miner}`, async () => {
      const got = await evaluate(
        { x: same },
        [0, 0, 1, 1, 2, 2],
        (t, l) => tripletMarginLoss(t.x!, l!, { margin: 0.2, miner }).loss,
        ["x"],
        "float32",
      );
      assertClose([got.loss], [miner === "semihard" ? 0 : 0.2], "loss", 1e-6);
      assertFinite(got.grads.x!, "gradient");
    });
  }
});

test("tripletMarginLoss gradients vs finite differences (batch-hard, squared L2)", async () => {
  await gradcheck(
    [[6, 3], [6]],
    (x, labels) =>
      tripletMarginLoss(x, labels, { margin: 0.4, distance: "squared_l2", miner: "batch_hard" }).loss,
    { fixed: { 1: { data: BigInt64Array.from([0n, 0n, 1n, 1n, 2n, 2n]), dtype: "int64" } } },
  );
});
