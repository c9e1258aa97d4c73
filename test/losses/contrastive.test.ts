/** Pairwise contrastive losses (Hadsell and margin forms): PyTorch fixtures, hand-computed pairs, checks. */
import { describe, test } from "node:test";
import { contrastiveLoss, type Distance, marginContrastiveLoss } from "../../src/losses/index.js";
import { gradcheck } from "../engine/gradcheck.js";
import { assertClose, type Build, checkFixture, evaluate, type FixtureCase, fixtures, rows } from "./run.js";

const buildFor =
  (c: FixtureCase): Build =>
  (t, labels) =>
    c.opts.form === "hadsell"
      ? contrastiveLoss(t.x!, labels!, {
          margin: c.opts.margin as number,
          normalize: c.opts.normalize as boolean,
        }).loss
      : marginContrastiveLoss(t.x!, labels!, {
          posMargin: c.opts.posMargin as number,
          negMargin: c.opts.negMargin as number,
          distance: c.opts.distance as Distance,
          normalize: c.opts.normalize as boolean,
        }).loss;

describe("contrastive losses vs PyTorch", () => {
  for (const c of fixtures("contrastive")) test(c.name, () => checkFixture(c, buildFor(c)));
});

describe("contrastive losses by hand", () => {
  // 1-D points 0, 1, 3 with labels 0, 0, 1: one positive pair (d = 1), negative pairs at d = 3 and d = 2.
  const x = rows([[0], [1], [3]]);
  const labels = [0, 0, 1];

  test("Hadsell, m = 2.5: ½·1² twice, ½·(2.5 − 2)² twice, over 6 ordered pairs", async () => {
    const got = await evaluate({ x }, labels, (t, l) => contrastiveLoss(t.x!, l!, { margin: 2.5 }).loss, [
      "x",
    ]);
    assertClose([got.loss], [(2 * 0.5 + 2 * 0.5 * 0.25) / 6], "loss", 1e-12);
    // d/dx₀: positive pair pulls (x₀ − x₁)/3 = −1/3; the pair (1, 2) does not involve x₀
    assertClose([got.grads.x![0]!], [-1 / 3], "d/dx0", 1e-12);
  });

  test("margins m₊ = 0.5, m₋ = 2.5: positive mean 0.5, non-zero negative mean 0.5", async () => {
    const got = await evaluate(
      { x },
      labels,
      (t, l) => marginContrastiveLoss(t.x!, l!, { posMargin: 0.5, negMargin: 2.5, normalize: false }).loss,
      [],
    );
    assertClose([got.loss], [1], "loss", 1e-12);
  });
});

test("marginContrastiveLoss gradients vs finite differences (cosine distance)", async () => {
  await gradcheck(
    [[5, 3], [5]],
    (x, labels) =>
      marginContrastiveLoss(x, labels, { posMargin: 0.1, negMargin: 0.8, distance: "cosine" }).loss,
    { fixed: { 1: { data: BigInt64Array.from([0n, 0n, 1n, 1n, 0n]), dtype: "int64" } } },
  );
});

test("contrastiveLoss (Hadsell) gradients vs finite differences", async () => {
  await gradcheck([[5, 3], [5]], (x, labels) => contrastiveLoss(x, labels, { margin: 2 }).loss, {
    fixed: { 1: { data: BigInt64Array.from([0n, 1n, 1n, 2n, 0n]), dtype: "int64" } },
  });
});
