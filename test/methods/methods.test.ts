/** Image-only training methods end to end on a tiny shape set: losses fall, features separate shapes, resume. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { evaluateImageEncoder } from "../../src/eval/image-encoder.js";
import { isImageEncoderDir, loadImageEncoder } from "../../src/models/saved.js";
import { trainImageMethod } from "../../src/train/loop.js";
import type { ImageMethodName as ImageMethod } from "../../src/train/methods/index.js";
import type { ImageMethodOptions } from "../../src/train/options.js";
import { quiet, TINY_ENCODER, writeShapeSet } from "./fixtures.js";

let root = "";
let train = "";
let testSet = "";

before(async () => {
  root = mkdtempSync(join(tmpdir(), "juxta-"));
  train = await writeShapeSet(root, "train", 16);
  testSet = await writeShapeSet(root, "test", 6, 100);
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function run(method: ImageMethod, out: string, extra: Partial<ImageMethodOptions> = {}) {
  return trainImageMethod({
    method,
    data: train,
    out: join(root, out),
    encoder: TINY_ENCODER,
    batch: 16,
    epochs: 8,
    lr: 3e-3,
    warmup: 2,
    augment: "crop",
    workers: 0,
    session: { threads: 1 },
    stream: quiet,
    ...extra,
  });
}

/**
 * Steps per method, and the step from which the loss is compared: MoCo's loss first rises while real keys
 * replace the queue's random initial ones (2 steps here), and SupCon must learn shape, not colour, which
 * takes longer (without augmentation, so it fits in a test's time).
 */
const PLAN = {
  simclr: { steps: 24, from: 0, extra: {} },
  moco: { steps: 36, from: 2, extra: { epochs: 12 } },
  supcon: { steps: 90, from: 0, extra: { augment: "none", epochs: 30 } },
  triplet: { steps: 24, from: 0, extra: {} },
} as const;

for (const method of ["simclr", "moco", "supcon", "triplet"] as const) {
  const { steps, from, extra } = PLAN[method];
  test(`${method}: the loss falls over ${steps} steps on the shape set`, async () => {
    const r = await run(method, method, { stopAfter: steps, ...extra });
    assert.equal(r.steps, steps);
    assert.ok(r.losses.every(Number.isFinite));
    const first = mean(r.losses.slice(from, from + 4));
    const last = mean(r.losses.slice(-4));
    assert.ok(last < first * 0.9, `${method}: loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
    const dir = join(root, method);
    assert.ok(isImageEncoderDir(dir));
    const saved = loadImageEncoder(dir).config;
    assert.equal(saved.method, method);
    assert.equal(saved.step, steps);
    if (method === "supcon" || method === "triplet")
      assert.deepEqual(saved.classes, ["disc", "square", "triangle"]);
    else assert.equal(saved.classes, undefined);
  });
}

test("supcon features separate the shapes: kNN and linear probe well above chance on held-out shapes", async () => {
  const r = await evaluateImageEncoder(join(root, "supcon"), {
    data: testSet,
    knnTrain: train,
    knn: { k: 10 },
    linearProbe: { epochs: 50 },
  });
  assert.equal(r.testSamples, 18);
  assert.equal(r.trainSamples, 48);
  assert.ok(Math.abs(r.chance - 1 / 3) < 1e-9);
  assert.ok(r.knn.top1 >= 0.6, `kNN top-1 ${r.knn.top1}`);
  assert.ok(r.linear_probe.top1 >= 0.6, `linear probe top-1 ${r.linear_probe.top1}`);
});

for (const method of ["simclr", "moco", "supcon", "triplet"] as const) {
  test(`${method}: a resumed run gives the same losses as an uninterrupted one`, async () => {
    const full = await run(method, `${method}-full`, { epochs: 2, augment: "simclr" });
    const part = await run(method, `${method}-part`, { epochs: 2, augment: "simclr", stopAfter: 3 });
    assert.equal(part.steps, 3);
    const rest = await trainImageMethod({
      out: join(root, `${method}-part`),
      resume: true,
      workers: 0,
      session: { threads: 1 },
      stream: quiet,
    });
    assert.equal(rest.steps, full.steps);
    assert.deepEqual([...part.losses, ...rest.losses], full.losses);
    const weights = (name: string) => readFileSync(join(root, name, "model.safetensors"));
    assert.deepEqual(weights(`${method}-part`), weights(`${method}-full`));
  });
}

test("resuming a finished run takes no further step and rewrites nothing", async () => {
  const dir = join(root, "simclr-part");
  const before = readFileSync(join(dir, "model.safetensors"));
  const again = await trainImageMethod({ out: dir, resume: true, workers: 0, stream: quiet });
  assert.equal(again.steps, again.totalSteps);
  assert.deepEqual(again.losses, []);
  assert.deepEqual(readFileSync(join(dir, "model.safetensors")), before);
  assert.equal(JSON.parse(readFileSync(join(dir, "state.json"), "utf8")).step, again.totalSteps);
});

test("a resume may not change the run's settings", async () => {
  await assert.rejects(
    trainImageMethod({ out: join(root, "simclr-part"), resume: true, temperature: 0.1, stream: quiet }),
    /resume: temperature 0.1 differs from the run's/,
  );
  await assert.rejects(run("simclr", "simclr"), /already holds a run/);
  await assert.rejects(
    run("supcon", "y", { similarity: "dot" }),
    /similarity does not apply to method supcon/,
  );
});
