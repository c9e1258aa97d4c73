import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { formatEval } from "../../src/apps/evaluate.js";
import { evaluate } from "../../src/cli/commands/eval.js";
import { evaluateClip, evalValues, loadEvalSet } from "../../src/eval/clip.js";
import { retrievalRecall } from "../../src/eval/retrieval.js";
import { zeroShotAccuracy } from "../../src/eval/zeroshot.js";
import { ModelHandle } from "../../src/handle/model.js";
import { classEmbeddings, resolveTemplates } from "../../src/pipelines/templates.js";
import { normalizedRows } from "../../src/pipelines/vectors.js";
import { loadClipModel } from "../../src/pretrained/open.js";
import { UserError } from "../../src/util/errors.js";
import { colourImages, runCommand, tempDir, tinyModel, writeJsonl } from "./fixtures.js";

describe("evaluation", () => {
  let model: string;
  let test: string;
  let train: string;
  let img: string;
  before(async () => {
    model = tinyModel();
    const dir = tempDir();
    img = await colourImages(dir);
    const p = (c: string) => join(img, `${c}.png`);
    // red.png has two captions; "a red square" also describes yellow.png.
    test = writeJsonl(join(dir, "test.jsonl"), [
      { image: p("red"), text: "a red square", label: "warm" },
      { image: p("red"), text: "a red fruit", label: "warm" },
      { image: p("yellow"), text: "a red square", label: "warm" },
      { image: p("green"), text: "a green square", label: "cold" },
      { image: p("blue"), text: "a blue square", label: "cold" },
    ]);
    train = writeJsonl(join(dir, "train.jsonl"), [
      { image: p("red"), text: "a red square", label: "warm" },
      { image: p("yellow"), text: "a yellow square", label: "warm" },
      { image: p("green"), text: "a green square", label: "cold" },
      { image: p("blue"), text: "a blue square", label: "cold" },
    ]);
  });

  it("groups samples: one image with several captions, one caption matching several images", async () => {
    const set = await loadEvalSet(test);
    assert.equal(set.samples, 5);
    assert.deepEqual(
      set.images.map((im) => im.id),
      ["red", "yellow", "green", "blue"].map((c) => join(img, `${c}.png`)),
    );
    assert.deepEqual(set.texts, ["a red square", "a red fruit", "a green square", "a blue square"]);
    assert.deepEqual(set.textToImages, [[0, 1], [0], [2], [3]]);
    assert.deepEqual(
      set.images.map((im) => im.label),
      ["warm", "warm", "cold", "cold"],
    );
  });

  it("an image folder: equal template captions become one text matching every image of its class", async () => {
    const root = join(tempDir(), "classes");
    for (const [cls, colours] of [
      ["warm", ["red", "yellow"]],
      ["cold", ["blue"]],
    ] as const) {
      mkdirSync(join(root, cls), { recursive: true });
      for (const c of colours) copyFileSync(join(img, `${c}.png`), join(root, cls, `${c}.png`));
    }
    const set = await loadEvalSet(root);
    assert.deepEqual(set.texts, ["a photo of a cold.", "a photo of a warm."]);
    assert.deepEqual(set.textToImages, [[0], [1, 2]]);
    const r = await evaluateClip(loadClipModel(model), set, { ks: [1] });
    assert.equal(r.zero_shot?.classes, 2);
    assert.deepEqual(r.counts, { samples: 3, images: 3, texts: 2, labelled: 3, skipped: 0 });
  });

  it("recall and zero-shot equal the eval functions applied to the grouped embeddings", async () => {
    const clip = loadClipModel(model);
    const templates = resolveTemplates("photo");
    const r = await evaluateClip(clip, test, { ks: [1, 2], templates });
    const set = await loadEvalSet(test);
    const emb = new ModelHandle(clip);
    const d = emb.dim;
    const images = normalizedRows(await emb.embedImages(set.images.map((im) => im.ref)), d, "image");
    const texts = normalizedRows(await emb.embedTexts(set.texts), d, "text");
    const expected = retrievalRecall(images, texts, d, [[0, 1], [0], [2], [3]], [1, 2]);
    const classEmb = await classEmbeddings(["warm", "cold"], templates, (t) => emb.embedTexts(t));
    await emb.dispose();
    assert.deepEqual(r.image_to_text, expected.image_to_text);
    assert.deepEqual(r.text_to_image, expected.text_to_image);
    const labels = ["warm", "warm", "cold", "cold"];
    assert.deepEqual(r.zero_shot, zeroShotAccuracy(images, labels, ["warm", "cold"], classEmb));
    assert.deepEqual(r.counts, { samples: 5, images: 4, texts: 4, labelled: 4, skipped: 0 });
    assert.deepEqual(Object.keys(evalValues(r)), [
      "image_to_text/R@1",
      "image_to_text/R@2",
      "text_to_image/R@1",
      "text_to_image/R@2",
      "zero_shot/top1",
      "zero_shot/top5",
    ]);
    assert.match(formatEval(r), /image → text +R@1 [\d.]+% +R@2/);
  });

  it("juxta eval --json prints one line with recall, zero-shot, kNN and linear probe", async () => {
    const out = await runCommand(evaluate, [
      "--model",
      model,
      "--data",
      test,
      "--knn-train",
      train,
      "--json",
    ]);
    assert.equal(out.length, 1);
    const r = JSON.parse(out[0] as string);
    assert.deepEqual(Object.keys(r), [
      "image_to_text",
      "text_to_image",
      "zero_shot",
      "knn",
      "linear_probe",
      "counts",
    ]);
    for (const dir of ["image_to_text", "text_to_image"]) {
      assert.deepEqual(Object.keys(r[dir]), ["R@1", "R@5", "R@10"]);
      // Every query has a true match among 4 images/texts, so it is always within the top 5.
      assert.equal(r[dir]["R@5"], 1);
    }
    assert.equal(r.zero_shot.classes, 2);
    assert.equal(r.zero_shot.top5, 1);
    for (const probe of ["knn", "linear_probe"]) {
      assert.ok(r[probe].top1 >= 0 && r[probe].top1 <= 1, `${probe}.top1 = ${r[probe].top1}`);
      assert.equal(r[probe].top5, 1);
    }
    // The readable table names each part.
    const table = (await runCommand(evaluate, ["--model", model, "--data", test, "--templates", "emoji"]))[0];
    assert.match(table as string, /5 samples, 4 images, 4 distinct captions, 4 labelled/);
    assert.match(table as string, /zero-shot +top1 [\d.]+% +top5 100\.0% +\(2 classes\)/);
  });

  it("bad input is a UserError", async () => {
    const run = (argv: string[]) => runCommand(evaluate, argv);
    await assert.rejects(run(["--model", model]), /--data FILE is required/);
    await assert.rejects(run(["--data", test]), /--model RUN is required/);
    await assert.rejects(run(["--model", join(model, "nope"), "--data", test]), /does not exist/);
    await assert.rejects(
      run(["--model", model, "--data", test, "--templates", join(model, "x.txt")]),
      UserError,
    );
    const unlabelled = writeJsonl(join(tempDir(), "u.jsonl"), [
      { image: join(img, "red.png"), text: "a red" },
    ]);
    await assert.rejects(
      run(["--model", model, "--data", unlabelled, "--knn-train", train]),
      /no image has a label/,
    );
  });
});
