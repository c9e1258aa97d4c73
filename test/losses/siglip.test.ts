/** SigLIP's sigmoid loss: PyTorch fixtures, hand-computed cases, stability, gradient check. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SIGLIP_INIT, siglipLoss } from "../../src/losses/index.js";
import { gradcheck } from "../engine/gradcheck.js";
import {
  assertClose,
  assertFinite,
  type Build,
  checkFixture,
  evaluate,
  fixtures,
  rows,
  scalarValue,
} from "./run.js";

const build: Build = (t) => siglipLoss(t.image!, t.text!, t.log_t!, t.bias!).loss;

describe("siglipLoss vs PyTorch", () => {
  for (const c of fixtures("siglip")) test(c.name, () => checkFixture(c, build));
});

describe("siglipLoss by hand", () => {
  const eye2 = rows([
    [1, 0],
    [0, 1],
  ]);

  test("the paper's init constants", () => {
    assertClose([Math.exp(SIGLIP_INIT.logTemperature)], [10], "t", 1e-15);
    assert.equal(SIGLIP_INIT.bias, -10);
  });

  test("orthonormal pairs at init: positives sit at logit 0, negatives at −10", async () => {
    const inputs = {
      image: eye2,
      text: eye2,
      log_t: scalarValue(SIGLIP_INIT.logTemperature),
      bias: scalarValue(SIGLIP_INIT.bias),
    };
    const got = await evaluate(inputs, undefined, build, ["bias"]);
    // −(1/2)·(2·log σ(0) + 2·log σ(10))
    assertClose([got.loss], [Math.log(2) + Math.log1p(Math.exp(-10))], "loss", 1e-12);
    // d/db of −(1/N) Σ log σ(zᵢⱼ·lᵢⱼ) = −(1/N) Σ zᵢⱼ·σ(−zᵢⱼ·lᵢⱼ)
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    assertClose(got.grads.bias!, [-(2 * sig(0) - 2 * sig(-10)) / 2], "d/db", 1e-12);
  });

  test("huge logits stay finite (log σ(−10⁴) = −10⁴, not −∞)", async () => {
    const inputs = {
      image: eye2,
      text: rows([
        [-1, 0],
        [0, -1],
      ]),
      log_t: scalarValue(Math.log(1e4)),
      bias: scalarValue(0),
    };
    const got = await evaluate(inputs, undefined, build, ["image", "text", "log_t", "bias"]);
    assertClose([got.loss], [1e4 + Math.log(2)], "loss", 1e-12);
    for (const g of Object.values(got.grads)) assertFinite(g, "gradient");
  });
});

test("siglipLoss gradients vs finite differences (embeddings, temperature, bias)", async () => {
  await gradcheck([[3, 4], [3, 4], [], []], (x, y, t, b) => siglipLoss(x, y, t, b).loss);
});
