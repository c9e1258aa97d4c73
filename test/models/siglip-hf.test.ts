/**
 * A Hugging Face SiglipModel folder opened with openModel, against PyTorch: the tiny model, its images and
 * texts in test/fixtures/siglip-hf were made by make_fixture.py there (modeling_siglip.py's forward written
 * out in PyTorch, SiglipImageProcessor's preprocessing with PIL).
 */
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { openModel } from "../../src/handle/open.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { CLIP } from "../../src/models/clip.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { loadClip, saveClip } from "../../src/models/saved.js";
import { pipeline } from "../../src/pipelines/index.js";
import { detectFormat, loadClipModel } from "../../src/pretrained/open.js";
import { train } from "../../src/train/loop.js";
import { UserError } from "../../src/util/errors.js";
import { maxRelative, tmp } from "../export/fixtures.js";
import { projectRoot } from "../helpers.js";

const DIR = join(projectRoot, "test", "fixtures", "siglip-hf");
const ref = readSafetensors(join(DIR, "reference.safetensors")).tensors;
const { images, texts } = JSON.parse(readFileSync(join(DIR, "reference.json"), "utf8")) as {
  images: string[];
  texts: string[];
};
const paths = images.map((n) => join(DIR, "images", n));
const get = (name: string) => ref.get(name)!.data as Float32Array;
const inputIds = Int32Array.from(ref.get("input_ids")!.data as BigInt64Array, Number);

/** Rows of `a` against rows of `b`, cosine × scale + bias: [rows(a), rows(b)]. */
function logits(a: Float32Array, b: Float32Array, d: number, scale: number, bias: number): Float32Array {
  const n = a.length / d;
  const m = b.length / d;
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let k = 0; k < d; k++) {
        const x = a[i * d + k] as number;
        const y = b[j * d + k] as number;
        dot += x * y;
        na += x * x;
        nb += y * y;
      }
      out[i * m + j] = (scale * dot) / Math.sqrt(na * nb) + bias;
    }
  return out;
}

describe("Hugging Face SiglipModel folders (test/fixtures/siglip-hf, outputs computed by PyTorch)", () => {
  const handles: { dispose(): Promise<void> }[] = [];
  after(async () => {
    for (const h of handles) await h.dispose();
  });

  it("is detected and opened with SigLIP's towers, bias and preprocessing", () => {
    assert.equal(detectFormat(DIR), "hf-siglip");
    const loaded = loadClipModel(DIR);
    assert.equal(loaded.config.method, "siglip");
    assert.equal(loaded.model.cfg.vision.type, "siglip");
    assert.deepEqual(loaded.preprocess, {
      imageSize: 32,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      resize: "squash",
    });
    assert.ok(Math.abs((loaded.logitBias as number) + 3.5) < 1e-6);
  });

  it("the towers match PyTorch on its own pixels and ids to 1e-4", async () => {
    const { model } = loadClipModel(DIR);
    const enc = await ClipEncoders.create(model);
    try {
      assert.ok(
        maxRelative(await enc.encodeImages(get("pixel_values")), get("image_embeds")) < 1e-4,
        "image",
      );
      assert.ok(maxRelative(await enc.encodeTexts(inputIds), get("text_embeds")) < 1e-4, "text");
      // Bidirectional and pooled at the last position: no text graph at a shorter length is made.
      assert.deepEqual(enc.textLengthsCompiled, [16]);
    } finally {
      await enc.release();
    }
  });

  it("openModel: image files and texts embed as PyTorch's; logits are scale · cos + bias", async () => {
    const handle = await openModel(DIR);
    handles.push(handle);
    assert.equal(handle.family, "siglip");
    const tok = handle.tokenizer!;
    assert.deepEqual(Array.from(tok.encodeBatch(texts, 16)), Array.from(inputIds), "token ids");
    const img = await handle.embedImages(paths);
    const txt = await handle.embedTexts(texts);
    assert.ok(
      maxRelative(img, get("image_embeds")) < 1e-4,
      "image_embeds (PNG files, squashed and enlarged)",
    );
    assert.ok(maxRelative(txt, get("text_embeds")) < 1e-4, "text_embeds");
    const got = logits(img, txt, handle.dim, handle.logitScale as number, handle.logitBias as number);
    assert.ok(maxRelative(got, get("logits_per_image")) < 1e-4, "logits_per_image");
  });

  it("zero-shot pipeline: each label's sigmoid(logit), as SiglipModel's probabilities", async () => {
    const classify = await pipeline("zero-shot-image-classification", DIR);
    handles.push(classify);
    const rows = await classify(paths, texts, { hypothesis_template: "{}" });
    const want = get("logits_per_image");
    rows.forEach((row, i) => {
      for (const r of row) {
        const j = texts.indexOf(r.label);
        const p = 1 / (1 + Math.exp(-(want[i * texts.length + j] as number)));
        assert.ok(Math.abs(r.score - p) < 1e-4, `image ${i}, '${r.label}': ${r.score} vs ${p}`);
      }
    });
  });

  it("saved as a Juxta run, it reopens with the same embeddings and tokenizer", async () => {
    const loaded = loadClipModel(DIR);
    const out = tmp();
    saveClip(out, loaded.model, loaded.tokenizer, { step: 0, preprocess: loaded.preprocess });
    const back = loadClip(out);
    assert.ok(back.model instanceof CLIP);
    assert.deepEqual(back.preprocess, loaded.preprocess);
    assert.deepEqual(Array.from(back.tokenizer.encodeBatch(texts, 16)), Array.from(inputIds));
    const handle = await openModel(out);
    handles.push(handle);
    assert.ok(maxRelative(await handle.embedTexts(texts), get("text_embeds")) < 1e-4);
  });

  it("fine-tunes with the sigmoid loss from the folder (train init), keeping towers, bias and preprocessing", async () => {
    const work = tmp();
    const data = join(work, "pairs.jsonl");
    writeFileSync(data, paths.map((image, i) => JSON.stringify({ image, text: texts[i] })).join("\n"));
    const out = join(work, "run");
    await train({
      method: "siglip",
      data,
      out,
      init: DIR,
      batch: 4,
      epochs: 2,
      stream: { write: () => true },
    });
    const run = loadClip(out);
    assert.equal(run.config.method, "siglip");
    assert.equal(run.model.cfg.text.type, "siglip");
    assert.equal(run.preprocess.resize, "squash");
    const start = loadClipModel(DIR)
      .model.parameters()
      .find((p) => p.name === "visual.attn_pool.probe")!;
    const probe = run.model.parameters().find((p) => p.name === "visual.attn_pool.probe")!;
    assert.ok(
      probe.data.some((v, i) => v !== start.data[i]),
      "the pooling head trained",
    );
  });

  it("a bad config or a missing tensor is one clear error naming it", () => {
    const bad = (edit: (dir: string) => void, pattern: RegExp) => {
      const dir = tmp();
      cpSync(DIR, dir, { recursive: true });
      edit(dir);
      assert.throws(
        () => loadClipModel(dir),
        (e: unknown) => e instanceof UserError && pattern.test(e.message),
      );
    };
    const config = (dir: string, change: (c: Record<string, Record<string, unknown>>) => void) => {
      const path = join(dir, "config.json");
      const c = JSON.parse(readFileSync(path, "utf8"));
      change(c);
      writeFileSync(path, JSON.stringify(c));
    };
    bad(
      (d) =>
        config(d, (c) => {
          c.vision_config!.hidden_size = "wide";
        }),
      /vision_config\.hidden_size' must be a positive number/,
    );
    bad(
      (d) =>
        config(d, (c) => {
          c.text_config!.projection_size = 16;
        }),
      /projects to 16 .* image embedding has 32/,
    );
    bad(
      (d) =>
        config(d, (c) => {
          c.vision_config!.vision_use_head = false;
        }),
      /vision_use_head/,
    );
    bad(
      (d) =>
        config(d, (c) => {
          c.text_config!.hidden_act = "swish";
        }),
      /text_config\.hidden_act' is 'swish'/,
    );
    bad(
      (d) =>
        writeFileSync(
          join(d, "preprocessor_config.json"),
          JSON.stringify({ size: { height: 64, width: 64 } }),
        ),
      /takes 32 × 32/,
    );
    bad(
      (d) =>
        cpSync(
          join(projectRoot, "test", "fixtures", "clip-xcheck", "fixture.safetensors"),
          join(d, "model.safetensors"),
        ),
      /tensor 'vision_model\.embeddings\.patch_embedding\.weight' is missing/,
    );
  });
});
