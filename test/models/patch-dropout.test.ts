/**
 * Patch dropout (FLIP): which tokens a training step keeps, that the ViT then sees exactly those (and the
 * gradient reaches only them), and that inference is untouched by it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readSafetensors } from "../../src/io/safetensors.js";
import { CLIP, type ClipConfig } from "../../src/models/clip.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { patchesKept, patchKeepIndices } from "../../src/models/patch-dropout.js";
import { PRESETS } from "../../src/models/presets.js";
import { METHODS } from "../../src/train/methods/index.js";
import { createPairStep } from "../../src/train/pairs.js";
import { projectRoot } from "../helpers.js";

const FIXTURE = join(projectRoot, "test", "fixtures", "clip-xcheck");

function fixture() {
  const cfg = JSON.parse(readFileSync(join(FIXTURE, "config.json"), "utf8")) as ClipConfig;
  const { tensors } = readSafetensors(join(FIXTURE, "fixture.safetensors"));
  const get = (name: string) => tensors.get(name)?.data as Float32Array & Int32Array;
  const model = new CLIP(cfg).initialize(0);
  for (const p of model.parameters()) p.data.set(get(`param.${p.name}`));
  return { model, images: get("images"), tokens: get("tokens") };
}

describe("patch dropout", () => {
  it("keeps each image's class token and a uniform sample of its patches, fixed by the key", () => {
    assert.equal(patchesKept(64, 0.5), 32);
    assert.equal(patchesKept(4, 0.9), 1, "at least one patch (open_clip's rule)");
    assert.throws(() => patchesKept(64, 1), /in \[0, 1\)/);
    const keep = patchKeepIndices(3, 64, 0.5, 7);
    assert.equal(keep.length, 3 * 33);
    const seen = new Array<number>(64).fill(0);
    for (let b = 0; b < 3; b++) {
      const rows = [...keep.subarray(b * 33, (b + 1) * 33)].map((r) => r - b * 65);
      assert.equal(rows[0], 0, "the class token first");
      const patches = rows.slice(1);
      assert.ok(
        patches.every((r, i) => r >= 1 && r <= 64 && (i === 0 || r > (patches[i - 1] as number))),
        "distinct patch tokens of this image, in order",
      );
      for (const r of patches) seen[r - 1] = (seen[r - 1] as number) + 1;
    }
    assert.ok(seen.filter((n) => n > 0).length > 40, "different images keep different patches");
    assert.deepEqual(patchKeepIndices(3, 64, 0.5, 7), keep);
    assert.notDeepEqual(patchKeepIndices(3, 64, 0.5, 8), keep);
  });

  it("the tower sees only the kept tokens: dropped patches get no gradient, and their order does not matter", async () => {
    const { model, images, tokens } = fixture();
    const step = await createPairStep(METHODS.clip, model, { batch: 4, patchDropout: 0.5 });
    // Every image keeps its class token and patches 1 and 3 (of 0-3): positions 2 and 4 are never seen.
    const keep = (order: number[]) =>
      Int32Array.from({ length: 4 * 3 }, (_, i) => Math.floor(i / 3) * 5 + (order[i % 3] as number));
    const r = await step.run({ images, tokens, keep: keep([0, 2, 4]) }, 0);
    const pos = step.params.findIndex((p) => p.name === "visual.positional_embedding");
    const g = r.grads[pos] as Float32Array;
    const rowNorm = (row: number) => Math.hypot(...g.subarray(row * 24, (row + 1) * 24));
    assert.equal(rowNorm(1), 0);
    assert.equal(rowNorm(3), 0);
    for (const row of [0, 2, 4]) assert.ok(rowNorm(row) > 0, `kept token ${row} has a gradient`);
    const swapped = await step.run({ images, tokens, keep: keep([0, 4, 2]) }, 0);
    assert.ok(Math.abs(swapped.loss - r.loss) < 1e-5, `${swapped.loss} vs ${r.loss}`);
    // Without patch dropout the loss differs (the tower saw every patch).
    const full = await createPairStep(METHODS.clip, model, { batch: 4 });
    const all = await full.run({ images, tokens }, 0);
    assert.ok(Math.abs(all.loss - r.loss) > 1e-4);
    await Promise.all([step.release(), full.release()]);
  });

  it("inference is unchanged: a model's embeddings do not depend on training with it, and never drop a patch", async () => {
    const { model, images } = fixture();
    const before = await ClipEncoders.create(model, { chunk: 4 });
    const a = await before.encodeImages(images);
    // Compiling a patch-dropout step leaves the model as it was: the same weights, the same config.
    const config = structuredClone(model.cfg);
    const step = await createPairStep(METHODS.clip, model, { batch: 4, patchDropout: 0.5 });
    await step.release();
    assert.deepEqual(model.cfg, config);
    const after = await ClipEncoders.create(model, { chunk: 4 });
    assert.deepEqual(await after.encodeImages(images), a);
    await Promise.all([before.release(), after.release()]);
    // A tower without patches refuses it.
    const resnet = new CLIP({ ...PRESETS["tiny-resnet"], text: { ...PRESETS.tiny.text } }).initialize(0);
    assert.throws(
      () => createPairStep(METHODS.clip, resnet, { batch: 2, patchDropout: 0.5 }),
      /needs a ViT image tower; this model's is resnet/,
    );
  });
});
