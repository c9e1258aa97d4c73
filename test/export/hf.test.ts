import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fillNormal } from "../../src/engine/random.js";
import { exportModel } from "../../src/export/index.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import type { CLIP } from "../../src/models/clip.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { weightsOf } from "../../src/models/weights.js";
import { detectFormat, loadClipModel } from "../../src/pretrained/open.js";
import { needsShared, sharedData } from "../helpers.js";
import { CAPTIONS, maxRelative, smallRun, tmp } from "./fixtures.js";

const TINY = join(sharedData, "clip-tiny");
const BPE = join(sharedData, "clip-bpe", "bpe_simple_vocab_16e6.txt.gz");

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Every tensor of `b` has the name, shape and exact bytes of `a`'s. */
function assertSameWeights(a: CLIP, b: CLIP): void {
  const wa = weightsOf(a);
  const wb = weightsOf(b);
  assert.deepEqual(Object.keys(wb).sort(), Object.keys(wa).sort());
  for (const [name, t] of Object.entries(wa)) {
    assert.deepEqual([...wb[name]!.shape], [...t.shape], name);
    assert.ok(bytesOf(wb[name]!.data).equals(bytesOf(t.data)), `${name} differs`);
  }
}

async function embeddings(model: CLIP, ids: Int32Array, pixels: Float32Array) {
  const enc = await ClipEncoders.create(model);
  const result = { text: await enc.encodeTexts(ids), image: await enc.encodeImages(pixels) };
  await enc.release();
  return result;
}

describe("export --format hf", () => {
  it("a Juxta run → Hugging Face folder → open: the same tensors bit for bit, the same embeddings", async () => {
    const run = smallRun(7);
    const out = join(tmp(), "hf");
    exportModel(run, { format: "hf", out });
    assert.equal(detectFormat(out), "hf");
    const a = loadClipModel(run);
    const b = loadClipModel(out);
    assertSameWeights(a.model, b.model);
    // initLogitScale only seeds a fresh model; Hugging Face's config always carries one.
    const shape = ({ initLogitScale: _, ...rest }: CLIP["cfg"]) => rest;
    assert.deepEqual(shape(b.model.cfg), shape(a.model.cfg));
    assert.deepEqual(b.preprocess, a.preprocess);
    const ids = a.tokenizer.encodeBatch(CAPTIONS, a.model.cfg.text.contextLength);
    assert.deepEqual(Array.from(b.tokenizer.encodeBatch(CAPTIONS, 16)), Array.from(ids));
    const s = a.model.cfg.vision.imageSize;
    const pixels = fillNormal(new Float32Array(2 * 3 * s * s), 9) as Float32Array;
    const ea = await embeddings(a.model, ids, pixels);
    const eb = await embeddings(b.model, ids, pixels);
    assert.deepEqual(eb.text, ea.text);
    assert.deepEqual(eb.image, ea.image);
  });
});

describe("export --format hf of clip-tiny (OpenCLIP folder, outputs computed by OpenCLIP)", {
  skip: needsShared("clip-tiny") || needsShared("clip-bpe"),
}, () => {
  it("OpenCLIP → Juxta → hf → open: identical tensors and embeddings; io.safetensors reproduced", async () => {
    const out = join(tmp(), "clip-tiny-hf");
    exportModel(TINY, { format: "hf", out, tokenizer: BPE });
    const fromOpenClip = loadClipModel(TINY, { tokenizer: BPE });
    const fromExport = loadClipModel(out);
    assertSameWeights(fromOpenClip.model, fromExport.model);

    // The written file is Hugging Face's own naming: the same tensors as the reference model.safetensors.
    const ours = readSafetensors(join(out, "model.safetensors")).tensors;
    const reference = readSafetensors(join(TINY, "model.safetensors")).tensors;
    const refNames = [...reference.keys()].filter((k) => !k.endsWith(".position_ids")).sort();
    assert.deepEqual([...ours.keys()].sort(), refNames);
    for (const name of refNames) {
      assert.deepEqual(ours.get(name)!.shape, reference.get(name)!.shape, name);
      assert.ok(bytesOf(ours.get(name)!.data).equals(bytesOf(reference.get(name)!.data)), `${name} differs`);
    }

    const io = readSafetensors(join(TINY, "io.safetensors")).tensors;
    const ids = Int32Array.from(io.get("input_ids")!.data as BigInt64Array, Number);
    const pixels = io.get("pixel_values")!.data as Float32Array;
    const ea = await embeddings(fromOpenClip.model, ids, pixels);
    const eb = await embeddings(fromExport.model, ids, pixels);
    assert.deepEqual(eb.text, ea.text);
    assert.deepEqual(eb.image, ea.image);
    assert.ok(maxRelative(eb.text, io.get("text_embeds")!.data as Float32Array) < 1e-4);
    assert.ok(maxRelative(eb.image, io.get("image_embeds")!.data as Float32Array) < 1e-4);
  });
});
