/** Supervised contrastive loss: PyTorch fixtures, a hand-computed case, edge cases, gradient check. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { input } from "../../src/engine/index.js";
import { supConLoss } from "../../src/losses/index.js";
import { UserError } from "../../src/util/errors.js";
import { gradcheck } from "../engine/gradcheck.js";
import { assertClose, assertFinite, checkFixture, evaluate, fixtures } from "./run.js";

describe("supConLoss vs PyTorch", () => {
  for (const c of fixtures("supcon")) {
    test(c.name, () =>
      checkFixture(
        c,
        (t, labels) =>
          supConLoss(t.features!, labels, {
            temperature: c.opts.temperature as number,
            baseTemperature: c.opts.baseTemperature as number,
            contrastMode: c.opts.contrastMode as "all" | "one",
          }).loss,
      ),
    );
  }
});

describe("supConLoss by hand", () => {
  // Three single-view samples e₁, e₁, e₂ with labels 0, 0, 1 and τ = τ_base = 1.
  const features = { shape: [3, 1, 2], data: [1, 0, 1, 0, 0, 1] };
  const run = (labels: number[]) =>
    evaluate(
      { features },
      labels,
      (t, l) => supConLoss(t.features!, l, { temperature: 1, baseTemperature: 1 }).loss,
      ["features"],
    );

  test("anchors 0 and 1 each have one positive; anchor 2 has none and is left out of the mean", async () => {
    const got = await run([0, 0, 1]);
    // anchor 0: −log(e¹ / (e¹ + e⁰)); anchor 1 the same
    assertClose([got.loss], [Math.log1p(Math.exp(-1))], "loss", 1e-12);
  });

  test("no anchor has a positive: loss 0, gradient 0, no NaN", async () => {
    const got = await run([0, 1, 2]);
    assert.ok(got.loss === 0, `loss ${got.loss}`);
    assertFinite(got.grads.features!, "gradient");
    assert.ok(got.grads.features!.every((v) => v === 0));
  });
});

test("supConLoss rejects features that are not [N, views, D]", () => {
  assert.throws(() => supConLoss(input("f", [4, 8]), undefined), UserError);
  assert.throws(() => supConLoss(input("f", [1, 1, 8]), undefined), UserError);
});

test("supConLoss gradients vs finite differences ('one' mode, labels)", async () => {
  await gradcheck(
    [[4, 2, 3], [4]],
    (f, labels) => supConLoss(f, labels, { temperature: 0.5, contrastMode: "one" }).loss,
    { fixed: { 1: { data: BigInt64Array.from([0n, 1n, 0n, 1n]), dtype: "int64" } } },
  );
});
