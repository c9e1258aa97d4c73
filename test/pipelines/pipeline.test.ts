/**
 * The model handle (`openModel`) and the pipelines on it, for each family: a tiny CLIP, the same CLIP with
 * SigLIP's bias, and an image-only encoder. Session compilations are counted on the engine's own
 * `Session.create`, so "compiled once" is measured, not assumed.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it, mock } from "node:test";
import sharp from "sharp";
import { Session } from "../../src/engine/index.js";
import { exportModel } from "../../src/export/index.js";
import { ModelHandle } from "../../src/handle/model.js";
import { openModel } from "../../src/handle/open.js";
import { CLIP } from "../../src/models/clip.js";
import { ImageEncoder } from "../../src/models/image-encoder.js";
import { loadClip, saveClip, saveImageEncoder } from "../../src/models/saved.js";
import { pipeline } from "../../src/pipelines/index.js";
import { classEmbeddings } from "../../src/pipelines/templates.js";
import { normalizedRows } from "../../src/pipelines/vectors.js";
import { trainBpe } from "../../src/text/train.js";
import { CAPTIONS, colourImages, tempDir, tinyConfig, tinyModel } from "../apps/fixtures.js";
import { TINY_ENCODER } from "../methods/fixtures.js";

/** Count Session.create calls while `body` runs. */
async function countCompiles(body: () => Promise<void>): Promise<number> {
  const spy = mock.method(Session, "create");
  try {
    await body();
    return spy.mock.callCount();
  } finally {
    spy.mock.restore();
  }
}

function close(a: Float32Array, b: Float32Array, tol = 1e-5): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++)
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `value ${i}: ${a[i]} vs ${b[i]}`);
}

function sigLipModel(): string {
  const dir = tempDir();
  const tokenizer = trainBpe(CAPTIONS, { vocabSize: 530, minFrequency: 1 });
  const model = new CLIP({ ...tinyConfig(tokenizer.vocabSize), initLogitBias: -10 }).initialize(4);
  model.logit_bias!.data[0] = -3.25;
  saveClip(dir, model, tokenizer, { step: 0 });
  return dir;
}

function imageEncoderRun(): string {
  const dir = tempDir();
  saveImageEncoder(dir, new ImageEncoder(structuredClone(TINY_ENCODER)).initialize(2), {
    step: 3,
    method: "simclr",
  });
  return dir;
}

describe("openModel: one handle for every family", () => {
  let clip = "";
  let siglip = "";
  let encoder = "";
  let img = "";
  before(async () => {
    clip = tinyModel();
    siglip = sigLipModel();
    encoder = imageEncoderRun();
    img = await colourImages(tempDir());
  });

  it("says what each model can do", async () => {
    const c = await openModel(clip);
    assert.equal(c.family, "clip");
    assert.equal(c.hasText, true);
    assert.equal(c.dim, 16);
    assert.ok(c.tasks.includes("zero-shot-image-classification"));
    const s = await openModel(siglip);
    assert.equal(s.family, "siglip");
    assert.equal(s.logitBias, -3.25);
    const e = await openModel(encoder);
    assert.deepEqual([e.family, e.method, e.hasText, e.dim], ["image-encoder", "simclr", false, 16]);
    assert.deepEqual(e.tasks, ["image-feature-extraction", "retrieval", "moderation"]);
    assert.equal(e.tokenizer, undefined);
    await assert.rejects(e.embedTexts(["a"]), /image-only encoder \(no text tower\) trained with simclr/);
    for (const h of [c, s, e]) await h.dispose();
  });

  it("SigLIP's bias is a model parameter, saved and loaded with the weights", () => {
    const loaded = loadClip(siglip);
    assert.equal(loaded.config.method, "siglip");
    assert.equal(loaded.model.cfg.initLogitBias, -10);
    assert.equal(loaded.model.logit_bias?.data[0], -3.25);
    assert.equal(loaded.logitBias, -3.25);
    const names = loaded.model.parameters().map((p) => p.name);
    assert.ok(names.includes("logit_bias") && names.includes("logit_scale"));
    assert.equal(loadClip(clip).model.logit_bias, undefined);
  });

  it("a SigLIP model round-trips through an OpenCLIP folder (init_logit_bias) with its bias", async () => {
    const out = join(tempDir(), "openclip");
    exportModel(siglip, { format: "open_clip", out });
    const config = JSON.parse(readFileSync(join(out, "open_clip_config.json"), "utf8"));
    assert.equal(config.model_cfg.init_logit_bias, -3.25);
    const h = await openModel(out);
    assert.equal(h.family, "siglip");
    assert.equal(h.logitBias, -3.25);
    const direct = await openModel(siglip);
    close(await h.embedTexts(["a red square"]), await direct.embedTexts(["a red square"]));
    await h.dispose();
    await direct.dispose();
  });

  it("a path, a Buffer and decoded pixels (RGB or RGBA) of one image embed alike", async () => {
    const path = join(img, "red.png");
    const bytes = readFileSync(path);
    const rgb = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const rgba = await sharp(path).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    for (const dir of [clip, encoder]) {
      const h = await openModel(dir);
      const [a, b, c, d] = await Promise.all([
        h.embedImages([path]),
        h.embedImages([bytes]),
        h.embedImages([{ data: rgb.data, width: rgb.info.width, height: rgb.info.height, channels: 3 }]),
        h.embedImages([{ data: rgba.data, width: rgba.info.width, height: rgba.info.height, channels: 4 }]),
      ]);
      close(a, b);
      close(a, c);
      close(a, d);
      await h.dispose();
    }
  });

  it("a disposed handle refuses to embed", async () => {
    const h = await openModel(clip);
    await h.embedImages([join(img, "red.png")]);
    await h.dispose();
    await assert.rejects(h.embedImages([join(img, "red.png")]), /disposed/);
  });
});

describe("pipelines", () => {
  let clip = "";
  let siglip = "";
  let encoder = "";
  let img = "";
  let images: string[] = [];
  before(async () => {
    clip = tinyModel(1);
    siglip = sigLipModel();
    encoder = imageEncoderRun();
    img = await colourImages(tempDir());
    images = ["red", "green", "blue", "yellow"].map((c) => join(img, `${c}.png`));
  });

  it("zero-shot classification called 100 times compiles one session per tower and embeds the prompts once", async () => {
    const model = await openModel(clip);
    const classify = await pipeline("zero-shot-image-classification", model);
    const texts = mock.method(model, "embedTexts");
    let first: unknown;
    const compiles = await countCompiles(async () => {
      for (let i = 0; i < 100; i++) {
        const ranked = await classify(images[i % 4]!, ["red", "green", "blue"]);
        if (i === 0) first = ranked;
        if (i === 4) assert.deepEqual(ranked, first);
      }
    });
    assert.equal(compiles, 2, "one image session and one text session");
    assert.equal(texts.mock.callCount(), 1, "prompts embedded on the first call only");
    // A new label set is embedded once more, with the text session already compiled.
    assert.equal(await countCompiles(async () => void (await classify(images[0]!, ["cat", "dog"]))), 0);
    assert.equal(texts.mock.callCount(), 2);
    assert.equal(classify.classifier.cachedLabelSets, 2);
    await classify.dispose();
    // The pipeline borrowed the handle: it is still usable.
    assert.equal((await model.embedImages([images[0]!])).length, 16);
    await model.dispose();
  });

  it("image-feature-extraction called 100 times compiles once, for CLIP and an image encoder", async () => {
    for (const dir of [clip, encoder]) {
      const extract = await pipeline("image-feature-extraction", dir);
      const compiles = await countCompiles(async () => {
        for (let i = 0; i < 100; i++) {
          const out = await extract(images[i % 4]!);
          assert.deepEqual(out.dims, [1, 16]);
        }
      });
      assert.equal(compiles, 1, dir);
      const all = await extract(images);
      assert.deepEqual(all.dims, [4, 16]);
      const norms = all.tolist().map((row) => Math.hypot(...row));
      for (const n of norms) assert.ok(Math.abs(n - 1) < 1e-5, "normalized rows");
      const raw = await extract(images, { normalize: false });
      close(normalizedRows(raw.data, 16, "image"), all.data);
      await extract.dispose();
      await assert.rejects(extract(images[0]!), /disposed/, "a pipeline that opened its model disposes it");
    }
  });

  it("zero-shot scores: CLIP's softmax over labels, SigLIP's sigmoid per label; prompt ensembles average", async () => {
    const model = await openModel(clip);
    const classify = await pipeline("zero-shot-image-classification", model);
    const labels = ["red", "green", "blue"];
    const templates = ["a photo of a {}.", "a {} square."];
    const ranked = await classify(images, labels, { templates });
    assert.equal(ranked.length, 4);
    const scale = model.logitScale as number;
    const classEmb = await classEmbeddings(labels, templates, (t) => model.embedTexts(t));
    const imageEmb = normalizedRows(await model.embedImages(images), 16, "image");
    for (const [i, row] of ranked.entries()) {
      assert.ok(Math.abs(row.reduce((a, s) => a + s.score, 0) - 1) < 1e-9);
      for (const s of row) {
        const c = labels.indexOf(s.label);
        let dot = 0;
        for (let k = 0; k < 16; k++) dot += imageEmb[i * 16 + k]! * classEmb[c * 16 + k]!;
        assert.ok(Math.abs(dot - s.similarity) < 1e-5);
      }
      const [a, b] = row;
      assert.ok(Math.abs(Math.log(a!.score / b!.score) - scale * (a!.similarity - b!.similarity)) < 1e-5);
    }
    const one = await classify(images[0]!, labels, { hypothesis_template: "a {}.", topk: 2 });
    assert.equal(one.length, 2);
    await assert.rejects(
      classify(images[0]!, labels, { hypothesis_template: "a {}.", templates }),
      /not both/,
    );
    await model.dispose();

    const sig = await pipeline("zero-shot-image-classification", siglip);
    const s = await sig(images[0]!, labels, { hypothesis_template: "a {}." });
    const h = sig.model;
    for (const r of s) {
      const want = 1 / (1 + Math.exp(-((h.logitScale as number) * r.similarity + (h.logitBias as number))));
      assert.ok(Math.abs(r.score - want) < 1e-9, "sigmoid of scale · cosine + bias");
    }
    assert.ok(Math.abs(s.reduce((a, r) => a + r.score, 0) - 1) > 1e-3, "not normalized over labels");
    await sig.dispose();
  });

  it("text feature-extraction; image-only encoders refuse text tasks with one clear sentence", async () => {
    const texts = await pipeline("feature-extraction", clip);
    const out = await texts(["a red square", "a blue thing"]);
    assert.deepEqual(out.dims, [2, 16]);
    assert.deepEqual((await texts("a red square")).data, out.data.slice(0, 16));
    await texts.dispose();
    await assert.rejects(pipeline("feature-extraction", encoder), /image-only encoder \(no text tower\)/);
    await assert.rejects(
      pipeline("zero-shot-image-classification", encoder),
      /image-only encoder \(no text tower\) trained with simclr; zero-shot classification scores images against embedded label texts/,
    );
    await assert.rejects(pipeline("captioning" as "retrieval", clip), /unknown pipeline task 'captioning'/);
  });

  it("retrieval: by text and by image; an image-only encoder searches by image", async () => {
    for (const dir of [clip, encoder]) {
      const search = await pipeline("retrieval", dir);
      assert.equal(await search.add(images), 4);
      const [self] = await search({ image: images[2]! }, { k: 1 });
      assert.equal(self?.id, images[2]);
      assert.ok(Math.abs(self!.score - 1) < 1e-5);
      if (dir === clip) assert.equal((await search("a blue square", { k: 3 })).length, 3);
      else await assert.rejects(search("a blue square"), /search it by image/);
      await search.dispose();
    }
  });

  after(() => {
    mock.restoreAll();
  });
});

describe("a model in memory gets a handle too (as training's evaluation uses it)", () => {
  it("ModelHandle over a CLIP being trained embeds with the weights it has when first used", async () => {
    const tokenizer = trainBpe(CAPTIONS, { vocabSize: 530, minFrequency: 1 });
    const model = new CLIP(tinyConfig(tokenizer.vocabSize)).initialize(7);
    const handle = new ModelHandle({
      model,
      tokenizer,
      preprocess: { imageSize: 16, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    });
    assert.equal(handle.dir, undefined);
    const a = await handle.embedTexts(["a red square"]);
    assert.equal(a.length, 16);
    await handle.dispose();
  });
});
