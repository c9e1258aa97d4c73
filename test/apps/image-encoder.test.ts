/** juxta eval and juxta embed on an image-only encoder (a tiny ResNet trained two SimCLR steps). */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { classify } from "../../src/cli/commands/classify.js";
import { embed } from "../../src/cli/commands/embed.js";
import { evaluate } from "../../src/cli/commands/eval.js";
import type { ImageEvalResult } from "../../src/eval/image-encoder.js";
import { preprocessImages } from "../../src/image/preprocess.js";
import { readNpy } from "../../src/io/npy.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { loadImageEncoder } from "../../src/models/saved.js";
import { trainImageMethod } from "../../src/train/loop.js";
import { quiet, TINY_ENCODER, writeShapeSet } from "../methods/fixtures.js";
import { runCommand, tempDir } from "./fixtures.js";

describe("image-only encoders in eval and embed", () => {
  let root = "";
  let train = "";
  let test = "";
  let model = "";
  before(async () => {
    root = tempDir();
    train = await writeShapeSet(root, "train", 6);
    test = await writeShapeSet(root, "test", 3, 50);
    model = join(root, "run");
    const r = await trainImageMethod({
      method: "simclr",
      data: train,
      out: model,
      encoder: TINY_ENCODER,
      batch: 8,
      epochs: 1,
      stopAfter: 2,
      workers: 0,
      session: { threads: 1 },
      stream: quiet,
    });
    assert.equal(r.steps, 2);
  });

  it("eval --json prints one line with kNN and linear probe, and no text metrics", async () => {
    const lines = await runCommand(evaluate, [
      "--model",
      model,
      "--data",
      test,
      "--knn-train",
      train,
      "--json",
    ]);
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes("\n"));
    const r = JSON.parse(lines[0]!) as ImageEvalResult;
    assert.deepEqual(Object.keys(r).sort(), [
      "chance",
      "classes",
      "featureDim",
      "knn",
      "linear_probe",
      "skipped",
      "testSamples",
      "trainSamples",
    ]);
    const { knn, linear_probe: probe } = r;
    assert.equal(r.testSamples, 9);
    assert.equal(r.trainSamples, 18);
    assert.equal(r.featureDim, 16);
    assert.ok(Math.abs(r.chance - 1 / 3) < 1e-9);
    // Accuracies over 9 images are multiples of 1/9; with 3 classes top-5 covers them all.
    for (const x of [knn.top1, probe.top1]) assert.ok(Math.abs(x * 9 - Math.round(x * 9)) < 1e-6, `${x}`);
    assert.equal(knn.top5, 1);
  });

  it("eval reads a folder's train and test splits, and prints a table", async () => {
    const lines = await runCommand(evaluate, ["--model", model, "--data", root]);
    const text = lines.join("\n");
    assert.match(text, /9 test images, 18 training images, 3 classes, 16-d backbone features/);
    assert.match(text, /kNN +top1 [\d.]+%/);
    assert.match(text, /linear probe +top1 [\d.]+%/);
    assert.match(text, /chance +33\.3%/);
  });

  it("eval skips and counts an unreadable test image (issue 11 case 8); --strict stops at it", async () => {
    const broken = join(root, "broken.png");
    writeFileSync(broken, "not a png");
    const bad = join(root, "bad-test.jsonl");
    writeFileSync(
      bad,
      `${readFileSync(test, "utf8")}${JSON.stringify({ image: broken, text: "a circle", label: "circle" })}\n`,
    );
    const [line] = await runCommand(evaluate, [
      "--model",
      model,
      "--data",
      bad,
      "--knn-train",
      train,
      "--json",
    ]);
    const r = JSON.parse(line!) as ImageEvalResult;
    assert.equal(r.testSamples, 9);
    assert.equal(r.skipped, 1);
    await assert.rejects(
      runCommand(evaluate, ["--model", model, "--data", bad, "--knn-train", train, "--strict"]),
      /bad-test\.jsonl:10: unreadable image: .*--strict makes bad input fatal/,
    );
  });

  it("eval refuses what an image encoder cannot do", async () => {
    await assert.rejects(runCommand(evaluate, ["--model", model, "--data", test]), /give --knn-train FILE/);
    await assert.rejects(
      runCommand(evaluate, ["--model", model, "--data", test, "--knn-train", train, "--templates", "photo"]),
      /--templates does not apply .* no text tower/,
    );
    await assert.rejects(
      runCommand(classify, ["--model", model, "--labels", "a,b", join(root, "test")]),
      /image-only encoder \(no text tower\)/,
    );
  });

  it("embed --images writes backbone features; --pixels of the same images gives the same rows", async () => {
    const folder = join(root, "test");
    const out = join(root, "feat.safetensors");
    const printed = await runCommand(embed, ["--model", model, "--images", folder, "--out", out]);
    assert.match(printed[0]!, /wrote 9 image embeddings \(16-d\)/);
    const got = readSafetensors(out);
    const feats = got.tensors.get("image_embeds")!;
    assert.deepEqual(feats.shape, [9, 16]);
    const ids = JSON.parse(got.metadata.image_ids!) as string[];
    assert.equal(ids.length, 9);

    const { preprocess } = loadImageEncoder(model);
    const pixels = await preprocessImages(
      ids.map((path) => ({ kind: "file" as const, path })),
      { size: preprocess.imageSize, mean: preprocess.mean, std: preprocess.std },
    );
    const px = join(root, "px.safetensors");
    writeSafetensors(px, { pixel_values: { dtype: "F32", shape: [9, 3, 16, 16], data: pixels } });
    const npy = join(root, "feat.npy");
    await runCommand(embed, ["--model", model, "--pixels", px, "--out", npy]);
    const again = readNpy(npy);
    assert.deepEqual(again.shape, [9, 16]);
    const a = feats.data as Float32Array;
    const b = again.data as Float32Array;
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5, `value ${i}: ${a[i]} vs ${b[i]}`);
    // Features differ between images (the encoder is not collapsed to a constant).
    assert.ok(a.slice(0, 16).some((v, j) => Math.abs(v - a[16 * 4 + j]!) > 1e-4));

    await assert.rejects(
      runCommand(embed, ["--model", model, "--texts", join(root, "x.txt"), "--out", out]),
      /image encoder \(no text tower\); it cannot embed --texts/,
    );
  });
});
