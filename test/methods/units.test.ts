/** MoCo's momentum encoder and queue, ResNet's BatchNorm statistics, saved image encoders, the SigLIP step. */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compile, input, Session } from "../../src/engine/index.js";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { SIGLIP_INIT } from "../../src/losses/index.js";
import { CLIP } from "../../src/models/clip.js";
import {
  ImageEncoder,
  type ImageEncoderPreset,
  ImageFeatureEncoder,
  imageEncoderConfig,
} from "../../src/models/image-encoder.js";
import { ResNet } from "../../src/models/resnet.js";
import { isImageEncoderDir, loadImageEncoder, saveImageEncoder } from "../../src/models/saved.js";
import { bind, stateDict } from "../../src/nn/module.js";
import { TrainStep } from "../../src/nn/train-step.js";
import { AdamW } from "../../src/optim/index.js";
import { createMethodStep } from "../../src/train/images.js";
import { METHODS } from "../../src/train/methods/index.js";
import type { MocoExtras } from "../../src/train/methods/moco.js";
import { methodSettings } from "../../src/train/options.js";
import { createPairStep } from "../../src/train/pairs.js";
import { TINY_ENCODER } from "./fixtures.js";

const randomPixels = (n: number, s: number, key: string, shift = 0) => {
  const x = fillNormal(new Float32Array(n * 3 * s * s), streamKey(key)) as Float32Array;
  return shift ? x.map((v) => v + shift) : x;
};

test("moco: after one step the key encoder is m·key + (1 − m)·query and the queue advanced by the batch", async () => {
  const n = 4;
  const model = new ImageEncoder(TINY_ENCODER).initialize(1);
  const m = 0.9;
  const settings = methodSettings(METHODS.moco, { queue: 3 * n, momentum: m });
  const extras = METHODS.moco.extras!({
    model,
    config: TINY_ENCODER,
    batch: n,
    stepsPerEpoch: 9,
    seed: 3,
    settings,
  }) as MocoExtras;
  const { key, queue } = extras;
  key.initialize(2); // deliberately not a copy, so both terms count
  const step = await createMethodStep(METHODS.moco, model, { batch: n, settings, extras });
  const opt = new AdamW(step.params, { weightDecay: 0 });
  const key0 = key.parameters().map((p) => p.data.slice());
  const queue0 = queue.data.slice();
  const pixels = randomPixels(2 * n, 16, "moco-step");
  const r = await step.run({ pixels }, 0);
  assert.ok(Number.isFinite(r.loss));
  assert.equal(r.metrics.keys, undefined, "keys go to the queue, not the metrics");
  opt.update(r.grads, 0.01);
  step.afterUpdate();
  const query = model.parameters();
  key.parameters().forEach((p, k) => {
    const q = query[k]!.data;
    const before = key0[k]!;
    for (let i = 0; i < p.data.length; i++) {
      const want = Math.fround(m * before[i]! + (1 - m) * q[i]!);
      assert.ok(Math.abs(p.data[i]! - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${p.name}[${i}]`);
    }
  });
  assert.ok(
    query.some((p, k) => p.data.some((v, i) => v !== key0[k]![i])),
    "the optimizer moved the query",
  );
  const d = queue.dim;
  const rowNorm = (r: number) => Math.hypot(...queue.data.subarray(r * d, (r + 1) * d));
  for (let row = 0; row < n; row++) {
    assert.ok(Math.abs(rowNorm(row) - 1) < 1e-5, `row ${row} holds a normalized key`);
    assert.notDeepEqual(queue.data.subarray(row * d, (row + 1) * d), queue0.subarray(row * d, (row + 1) * d));
  }
  assert.deepEqual(queue.data.subarray(n * d), queue0.subarray(n * d), "rows past the batch are untouched");
  const filled = queue.data.slice(0, n * d);
  await step.run({ pixels }, 1);
  assert.deepEqual(queue.data.subarray(0, n * d), filled, "the second batch goes to the next rows");
  assert.notDeepEqual(queue.data.subarray(n * d, 2 * n * d), queue0.subarray(n * d, 2 * n * d));
  await step.release();
});

test("supcon with one view: the step's loss is SupCon over the batch's own images; other counts are refused", async () => {
  const n = 6;
  const s = TINY_ENCODER.backbone.imageSize;
  const labels = [0, 1, 0, 2, 1, 0];
  const model = new ImageEncoder(TINY_ENCODER).initialize(4);
  model.train();
  const pixels = randomPixels(n, s, "supcon-one-view");
  // The encoder's training-mode features of these n images (BatchNorm on their batch statistics).
  bind(model);
  const probe = await Session.create(
    compile({ z: model.forward(input("images", [n, 3, s, s])) }, { freeze: stateDict(model) }),
  );
  const z = (await probe.run({ images: pixels })).z!.data as Float32Array;
  await probe.release();
  const d = z.length / n;
  const unit = Array.from({ length: n }, (_, i) => {
    const row = Array.from(z.subarray(i * d, (i + 1) * d));
    const norm = Math.hypot(...row);
    return row.map((v) => v / norm);
  });
  const t = 0.1;
  const sim = (a: number, c: number) => unit[a]!.reduce((acc, v, k) => acc + v * unit[c]![k]!, 0) / t;
  const perAnchor: number[] = [];
  for (let a = 0; a < n; a++) {
    const others = [...Array(n).keys()].filter((c) => c !== a);
    const positives = others.filter((c) => labels[c] === labels[a]);
    if (!positives.length) continue;
    const logDenominator = Math.log(others.reduce((acc, c) => acc + Math.exp(sim(a, c)), 0));
    perAnchor.push(-positives.reduce((acc, p) => acc + sim(a, p) - logDenominator, 0) / positives.length);
  }
  const want = perAnchor.reduce((a, b) => a + b, 0) / perAnchor.length;

  const settings = methodSettings(METHODS.supcon, { views: 1 });
  const step = await createMethodStep(METHODS.supcon, model, { batch: n, settings });
  const feedsLabels = BigInt64Array.from(labels, BigInt);
  const r = await step.run({ pixels, labels: feedsLabels }, 0);
  assert.ok(
    Math.abs(r.loss - want) < 1e-4 * Math.max(1, Math.abs(want)),
    `loss ${r.loss}, reference ${want}`,
  );
  await assert.rejects(
    step.run({ pixels: randomPixels(2 * n, s, "two-views"), labels: feedsLabels }, 1),
    /expected 6 images/,
  );
  await step.release();
  for (const views of [0, 1.5])
    assert.throws(
      () => METHODS.supcon.check!({ views }, n),
      new RegExp(`views ${views}: expected a whole number of views per image, 1 or more`),
    );
});

test("resnet: training updates BatchNorm's running statistics from the batch; eval uses them", async () => {
  const net = new ResNet({
    type: "resnet",
    imageSize: 8,
    stemStride: 1,
    widths: [4, 8],
    blocks: [1, 1],
  }).initialize(0);
  const n = 6;
  const pixels = randomPixels(n, 8, "bn", 0.5);
  // The stem convolution's per-channel batch mean, computed on its own.
  bind(net);
  const images = input("images", [n, 3, 8, 8]);
  const probe = await Session.create(
    compile({ mean: net.stem.forward(images).mean([0, 2, 3]) }, { freeze: stateDict(net) }),
  );
  const batchMean = (await probe.run({ images: pixels })).mean!.data as Float32Array;
  await probe.release();

  net.train();
  const step = await TrainStep.create({
    model: net,
    inputs: { images: { shape: [n, 3, 8, 8] } },
    loss: ({ images }) => ({ loss: net.forward(images!).square().mean() }),
  });
  await step.run({ images: pixels }, 0);
  await step.release();
  const running = net.stem_bn.runningMean.data;
  for (let c = 0; c < 4; c++) assert.ok(Math.abs(running[c]! - 0.1 * batchMean[c]!) < 1e-5, `channel ${c}`);
  assert.ok(
    net.stem_bn.runningVar.data.every((v) => v !== 1),
    "running variance moved too",
  );
  assert.ok(
    net.layers[1]!.bn2.runningMean.data.some((v) => v !== 0),
    "deeper layers update as well",
  );

  // Eval: features of an image do not depend on the rest of the batch, and change with the running stats.
  const enc = new ImageEncoder({ backbone: net.cfg, head: { hidden: 4, out: 4 } }).initialize(0);
  enc.backbone = net;
  const encoder = await ImageFeatureEncoder.create(enc);
  const all = await encoder.encode(pixels);
  const first = await encoder.encode(pixels.subarray(0, 3 * 64));
  await encoder.release();
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(all[i]! - first[i]!) < 1e-5);
  net.stem_bn.runningMean.data.fill(5);
  const shifted = await ImageFeatureEncoder.create(enc);
  const moved = await shifted.encode(pixels.subarray(0, 3 * 64));
  await shifted.release();
  assert.ok(
    moved.some((v, i) => Math.abs(v - first[i]!) > 1e-3),
    "eval reads the running mean",
  );
});

test("image encoder: saved and loaded weights, config and features match; presets build", async () => {
  const dir = mkdtempSync(join(tmpdir(), "juxta-"));
  const model = new ImageEncoder(TINY_ENCODER).initialize(4);
  saveImageEncoder(dir, model, { step: 7, method: "simclr", classes: ["a", "b"] });
  assert.ok(isImageEncoderDir(dir));
  const loaded = loadImageEncoder(dir);
  assert.equal(loaded.config.architecture, "image-encoder");
  assert.equal(loaded.config.step, 7);
  assert.deepEqual(loaded.config.classes, ["a", "b"]);
  assert.equal(loaded.preprocess.imageSize, 16);
  const pixels = randomPixels(3, 16, "save");
  const a = await ImageFeatureEncoder.create(model);
  const b = await ImageFeatureEncoder.create(loaded.model);
  assert.deepEqual(await b.encode(pixels), await a.encode(pixels));
  await a.release();
  await b.release();
  const sizes = Object.fromEntries(
    (["resnet-tiny", "resnet-small", "vit-tiny"] as const).map((p) => {
      const e = new ImageEncoder(imageEncoderConfig(p));
      return [p, [e.imageSize, e.featureDim]];
    }),
  );
  assert.deepEqual(sizes, { "resnet-tiny": [32, 128], "resnet-small": [64, 256], "vit-tiny": [64, 256] });
  assert.throws(
    () => imageEncoderConfig("nope" as ImageEncoderPreset),
    /unknown image encoder preset 'nope'/,
  );
});

test("siglip step: learnable t and b get gradients, the loss falls on a fixed batch", async () => {
  const model = new CLIP({
    embedDim: 16,
    initLogitScale: SIGLIP_INIT.logTemperature,
    vision: {
      type: "vit",
      imageSize: 16,
      patchSize: 8,
      width: 16,
      layers: 1,
      heads: 2,
      mlpRatio: 2,
      act: "gelu",
      lnEps: 1e-5,
    },
    text: {
      vocabSize: 32,
      contextLength: 6,
      width: 16,
      layers: 1,
      heads: 2,
      mlpRatio: 2,
      act: "gelu",
      lnEps: 1e-5,
    },
  }).initialize(0);
  METHODS.siglip.prepare(model, "fresh");
  const bias = model.logit_bias!;
  assert.equal(bias.data[0], -10);
  const n = 4;
  const step = await createPairStep(METHODS.siglip, model, { batch: n });
  assert.deepEqual(
    step.params.map((p) => p.name).filter((name) => name.startsWith("logit")),
    ["logit_scale", "logit_bias"],
  );
  assert.ok(
    step.params.some((p) => p.name === "visual.conv1.weight"),
    "names are the CLIP model's own",
  );
  const tokens = Int32Array.from({ length: n * 6 }, (_, i) => (i * 7 + 3) % 32);
  const images = randomPixels(n, 16, "siglip");
  const opt = new AdamW(step.params, { weightDecay: 0 });
  const losses: number[] = [];
  for (let s = 0; s < 12; s++) {
    const r = await step.run({ images, tokens }, s);
    if (s === 0) {
      assert.ok(Math.abs((r.metrics.temperature as Float32Array)[0]! - 10) < 1e-4);
      assert.equal((r.metrics.bias as Float32Array)[0], -10);
      const g = r.grads[step.params.indexOf(bias)]!;
      assert.ok(g[0]! < 0, "with b = −10 every pair looks negative; the matching pairs pull b up");
    }
    opt.update(r.grads, 0.01);
    losses.push(r.loss);
  }
  await step.release();
  assert.ok(bias.data[0]! > -10, `b moved to ${bias.data[0]}`);
  assert.ok(losses.at(-1)! < losses[0]! * 0.9, `loss ${losses[0]} → ${losses.at(-1)}`);
});
