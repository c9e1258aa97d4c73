/**
 * `export --format open_clip`: the folder open_clip's own model code loads (strict state dict) and embeds
 * exactly as Juxta does. The reference outputs come from open_clip's model code under PyTorch
 * (test/fixtures/openclip-export/make_fixture.mjs runs check_open_clip.py), kept as a fixture.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { exportModel } from "../../src/export/index.js";
import { openModel } from "../../src/handle/open.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { CLIP, type ClipConfig } from "../../src/models/clip.js";
import { saveClip } from "../../src/models/saved.js";
import { loadClipModel } from "../../src/pretrained/open.js";
import { trainBpe } from "../../src/text/index.js";
import { CAPTIONS, tempDir, tinyConfig, tinyModel } from "../apps/fixtures.js";
import { projectRoot } from "../helpers.js";

const FIXTURE = join(projectRoot, "test", "fixtures", "openclip-export");

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

async function embed(dir: string, pixels: Float32Array, tokenizer?: string) {
  const embedder = await openModel(dir, { tokenizer });
  try {
    return { image: await embedder.embedPixels(pixels), text: await embedder.embedTexts(CAPTIONS) };
  } finally {
    await embedder.dispose();
  }
}

describe("juxta export --format open_clip", () => {
  it("writes the folder open_clip loads, whose embeddings equal open_clip's own to 1e-4", async () => {
    const model = tinyModel(0);
    const out = join(tempDir(), "oc");
    assert.deepEqual(exportModel(model, { format: "open_clip", out }), [
      "open_clip_config.json",
      "open_clip_model.safetensors",
      "tokenizer.json",
    ]);
    const cfg = JSON.parse(readFileSync(join(out, "open_clip_config.json"), "utf8"));
    assert.deepEqual(cfg.model_cfg.vision_cfg, {
      image_size: 16,
      patch_size: 8,
      width: 32,
      layers: 1,
      head_width: 16,
      mlp_ratio: 2,
    });
    const names = [...readSafetensors(join(out, "open_clip_model.safetensors")).tensors.keys()];
    assert.ok(
      names.includes("token_embedding.weight") && names.includes("visual.conv1.weight"),
      names.join(),
    );
    assert.ok(!names.some((n) => n.startsWith("text.")), "OpenCLIP keeps the text tower at the top level");

    const inputs = readSafetensors(join(FIXTURE, "inputs.safetensors")).tensors;
    const reference = readSafetensors(join(FIXTURE, "open_clip_outputs.safetensors")).tensors;
    const pixels = inputs.get("pixel_values")?.data as Float32Array;
    const ids = inputs.get("input_ids")?.data as Int32Array;
    const loaded = loadClipModel(model);
    assert.deepEqual(
      loaded.tokenizer.encodeBatch(CAPTIONS, loaded.model.cfg.text.contextLength),
      ids,
      "the fixture's token ids are this tokenizer's",
    );
    const ours = await embed(model, pixels);
    const theirs = {
      image: reference.get("image_embeds")?.data as Float32Array,
      text: reference.get("text_embeds")?.data as Float32Array,
    };
    assert.ok(
      maxDiff(ours.image, theirs.image) < 1e-4,
      `images differ by ${maxDiff(ours.image, theirs.image)}`,
    );
    assert.ok(maxDiff(ours.text, theirs.text) < 1e-4, `texts differ by ${maxDiff(ours.text, theirs.text)}`);
    // Both store the temperature as its log, ln(1/τ).
    const logScale = reference.get("logit_scale")?.data[0] as number;
    assert.ok(Math.abs((loaded.model.logit_scale.data[0] as number) - logScale) < 1e-6, `${logScale}`);

    // And back: Juxta's OpenCLIP reader opens the export with the same embeddings.
    const back = await embed(out, pixels, join(out, "tokenizer.json"));
    assert.ok(maxDiff(back.image, ours.image) < 1e-6);
    assert.ok(maxDiff(back.text, ours.text) < 1e-6);
  });

  it("refuses a ResNet image tower in one line", () => {
    const dir = tempDir();
    const tokenizer = trainBpe(CAPTIONS, { vocabSize: 530, minFrequency: 1 });
    const cfg: ClipConfig = {
      ...tinyConfig(tokenizer.vocabSize),
      vision: { type: "resnet", imageSize: 32, stemStride: 2, widths: [8, 16], blocks: [1, 1] },
    };
    saveClip(dir, new CLIP(cfg).initialize(0), tokenizer, { step: 0 });
    assert.throws(
      () => exportModel(dir, { format: "open_clip", out: join(dir, "oc") }),
      /small ResNet, which OpenCLIP does not have/,
    );
    assert.ok(!existsSync(join(dir, "oc")), "nothing written");
  });
});
