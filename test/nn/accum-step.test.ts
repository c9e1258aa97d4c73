/** Accumulation over micro-batches (open_clip's --accum-freq) against one step on the whole batch. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { CLIP, type ClipConfig } from "../../src/models/clip.js";
import { METHODS, type PairMethodName } from "../../src/train/methods/index.js";
import { createPairAccumStep, createPairStep } from "../../src/train/pairs.js";

const CONFIG: ClipConfig = {
  embedDim: 16,
  vision: {
    type: "vit",
    imageSize: 16,
    patchSize: 8,
    width: 16,
    layers: 2,
    heads: 2,
    mlpRatio: 2,
    act: "gelu",
    lnEps: 1e-5,
  },
  text: {
    vocabSize: 32,
    contextLength: 6,
    width: 16,
    layers: 2,
    heads: 2,
    mlpRatio: 2,
    act: "gelu",
    lnEps: 1e-5,
  },
};

function maxRelative(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs((a[i] as number) - (b[i] as number)));
    den = Math.max(den, Math.abs(b[i] as number));
  }
  return num / Math.max(den, 1e-30);
}

function model(method: PairMethodName): CLIP {
  const m = new CLIP({ ...CONFIG, initLogitScale: METHODS[method].initLogitScale }).initialize(7);
  METHODS[method].prepare(m, "fresh");
  // Off SigLIP's starting point (t = 10, b = −10, where every pair looks negative) so its gradients are not tiny.
  if (m.logit_bias) m.logit_bias.data[0] = -2;
  return m;
}

describe("AccumStep: K micro-batches of b pairs equal one step on K·b pairs", () => {
  const n = 8;
  const images = fillNormal(new Float32Array(n * 3 * 16 * 16), streamKey("accum")) as Float32Array;
  const tokens = Int32Array.from({ length: n * 6 }, (_, i) => (i * 7 + 3 + Math.floor(i / 6)) % 32);
  const perImage = 3 * 16 * 16;

  for (const method of ["clip", "siglip"] as const)
    for (const k of [2, 4])
      it(`${method}, ${k} × ${n / k}: the same loss, metrics, gradients and gradient norm`, async () => {
        const big = await createPairStep(METHODS[method], model(method), { batch: n });
        const whole = await big.run({ images, tokens }, 0);
        await big.release();

        const b = n / k;
        const step = await createPairAccumStep(METHODS[method], model(method), { batch: b, accum: k });
        const parts = Array.from({ length: k }, (_, j) => ({
          images: images.subarray(j * b * perImage, (j + 1) * b * perImage),
          tokens: tokens.subarray(j * b * 6, (j + 1) * b * 6),
        }));
        const r = await step.run(parts, 0);
        await step.release();

        assert.ok(
          Math.abs(r.loss - whole.loss) <= 1e-5 * Math.abs(whole.loss),
          `loss ${r.loss} vs ${whole.loss}`,
        );
        assert.ok(
          Math.abs(r.gradNorm - whole.gradNorm) <= 1e-4 * whole.gradNorm,
          `norm ${r.gradNorm} vs ${whole.gradNorm}`,
        );
        assert.deepEqual(Object.keys(r.metrics).sort(), Object.keys(whole.metrics).sort());
        for (const [name, v] of Object.entries(whole.metrics))
          assert.ok(
            Math.abs(Number(r.metrics[name]![0]) - Number(v[0])) <=
              1e-5 * Math.max(1, Math.abs(Number(v[0]))),
            name,
          );
        assert.deepEqual(
          step.params.map((p) => p.name),
          big.params.map((p) => p.name),
        );
        for (const [i, p] of step.params.entries()) {
          const err = maxRelative(r.grads[i] as Float32Array, whole.grads[i] as Float32Array);
          assert.ok(err <= 2e-5, `gradient of ${p.name}: relative error ${err.toExponential(2)}`);
        }
      });

  it("refuses a wrong number of micro-batches", async () => {
    const step = await createPairAccumStep(METHODS.clip, model("clip"), { batch: 4, accum: 2 });
    await assert.rejects(step.run([{ images, tokens }], 0), /expected 2 micro-batches, got 1/);
    await step.release();
  });
});
