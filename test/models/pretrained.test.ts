import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readSafetensors } from "../../src/io/safetensors.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { detectFormat, loadClipModel } from "../../src/pretrained/open.js";
import { needsShared, sharedData } from "../helpers.js";

const TINY = join(sharedData, "clip-tiny");
const BPE = join(sharedData, "clip-bpe", "bpe_simple_vocab_16e6.txt.gz");

function maxRelative(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst / scale;
}

describe("pretrained CLIP folders (../shared/data/clip-tiny, outputs computed by OpenCLIP)", {
  skip: needsShared("clip-tiny") || needsShared("clip-bpe"),
}, () => {
  for (const naming of ["hf", "openclip"] as const) {
    it(`${naming} naming: embeddings and logits match io.safetensors to 1e-4`, async () => {
      const io = readSafetensors(join(TINY, "io.safetensors")).tensors;
      // Both namings live in one folder; the OpenCLIP files are found first, so HF is opened via a view.
      const loaded = loadClipModel(naming === "hf" ? hfView() : TINY, { tokenizer: BPE });
      assert.equal(detectFormat(naming === "hf" ? hfView() : TINY), naming);
      const enc = await ClipEncoders.create(loaded.model);
      const img = await enc.encodeImages(io.get("pixel_values")!.data as Float32Array);
      const ids = Int32Array.from(io.get("input_ids")!.data as BigInt64Array, (x) => Number(x));
      const txt = await enc.encodeTexts(ids);
      assert.ok(maxRelative(img, io.get("image_embeds")!.data as Float32Array) < 1e-4, "image_embeds");
      assert.ok(maxRelative(txt, io.get("text_embeds")!.data as Float32Array) < 1e-4, "text_embeds");
      const d = loaded.model.cfg.embedDim;
      const logits = new Float32Array(3 * 4);
      const scale = Math.exp(Math.min(loaded.model.logit_scale.data[0] as number, Math.log(100)));
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 4; j++) {
          let dot = 0;
          let ni = 0;
          let nj = 0;
          for (let k = 0; k < d; k++) {
            const a = img[i * d + k] as number;
            const b = txt[j * d + k] as number;
            dot += a * b;
            ni += a * a;
            nj += b * b;
          }
          logits[i * 4 + j] = (scale * dot) / Math.sqrt(ni * nj);
        }
      assert.ok(maxRelative(logits, io.get("logits_per_image")!.data as Float32Array) < 1e-4, "logits");
      await enc.release();
    });
  }

  it("the texts tokenize to io.safetensors' input_ids with CLIP's own tokenizer", async () => {
    const io = readSafetensors(join(TINY, "io.safetensors")).tensors;
    const { texts } = JSON.parse(readFileSync(join(TINY, "texts.json"), "utf8")) as { texts: string[] };
    const loaded = loadClipModel(TINY, { tokenizer: BPE });
    const ids = loaded.tokenizer.encodeBatch(texts, 77);
    assert.deepEqual(Array.from(ids), Array.from(io.get("input_ids")!.data as BigInt64Array, Number));
  });
});

/** A temporary folder holding only the Hugging Face files (linked), so detection picks HF. */
function hfView(): string {
  const dir = mkdtempSync(join(tmpdir(), "juxta-hf-"));
  for (const f of ["config.json", "model.safetensors"])
    if (existsSync(join(TINY, f))) symlinkSync(join(TINY, f), join(dir, f));
  return dir;
}
