import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import ort from "onnxruntime-node";
import { parseCommand } from "../../src/cli/command.js";
import { exportCommand } from "../../src/cli/commands/export.js";
import { fillNormal } from "../../src/engine/random.js";
import { clipOnnxGraphs, exportModel, ONNX_FILES, SIDE_FILES } from "../../src/export/index.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { loadClip } from "../../src/models/saved.js";
import { loadClipModel } from "../../src/pretrained/open.js";
import { loadTokenizer, type Tokenizer } from "../../src/text/index.js";
import { UserError } from "../../src/util/errors.js";
import { needsShared, sharedData } from "../helpers.js";
import { CAPTIONS, maxRelative, normalizeRows, SMALL, scaledDots, smallRun, tmp } from "./fixtures.js";

const TINY = join(sharedData, "clip-tiny");
const BPE = join(sharedData, "clip-bpe", "bpe_simple_vocab_16e6.txt.gz");

/** Token rows as transformers.js makes them: start, ids, end, then the pad id up to the longest row. */
function padToLongest(rows: number[][], pad: number): { data: BigInt64Array; dims: number[] } {
  const len = Math.max(...rows.map((r) => r.length));
  const data = new BigInt64Array(rows.length * len).fill(BigInt(pad));
  for (const [i, r] of rows.entries()) data.set(r.map(BigInt), i * len);
  return { data, dims: [rows.length, len] };
}

async function run(
  file: string,
  feeds: Record<string, { data: BigInt64Array | Float32Array; dims: number[] }>,
): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds))
    ortFeeds[k] = new ort.Tensor(v.data instanceof Float32Array ? "float32" : "int64", v.data, v.dims);
  const out = await session.run(ortFeeds);
  await session.release();
  return Object.fromEntries(
    Object.entries(out).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]),
  );
}

describe("export --format onnx (a random Juxta run)", async () => {
  const runDir = smallRun();
  const out = join(tmp(), "small-clip");
  const files = exportModel(runDir, { format: "onnx", out });
  const loaded = loadClip(runDir);
  const { model } = loaded;
  const tokenizer = loaded.tokenizer as Tokenizer;
  const enc = await ClipEncoders.create(model);
  const s = SMALL.vision.imageSize;
  const d = SMALL.embedDim;
  const pixels = fillNormal(new Float32Array(3 * 3 * s * s), 5) as Float32Array;
  const rows = CAPTIONS.map((c) => [tokenizer.startId, ...tokenizer.encode(c), tokenizer.endId]);
  const juxtaText = await enc.encodeTexts(tokenizer.encodeBatch(CAPTIONS, SMALL.text.contextLength));
  const juxtaImage = await enc.encodeImages(pixels);
  await enc.release();

  it("writes the transformers.js layout", () => {
    assert.deepEqual([...files].sort(), [...ONNX_FILES, ...SIDE_FILES].sort());
    for (const f of files) assert.ok(existsSync(join(out, f)), f);
  });

  it("uses standard ONNX operators only", () => {
    const graphs = clipOnnxGraphs(model);
    for (const g of [graphs.text, graphs.vision, graphs.joint]) {
      assert.deepEqual(g.domains, {});
      assert.ok(g.nodes.every((n) => !n.domain));
    }
  });

  it("text_model.onnx matches ClipEncoders for ids padded to the longest text and to the context", async () => {
    const longest = padToLongest(rows, tokenizer.endId);
    assert.ok(longest.dims[1]! < SMALL.text.contextLength, "the test needs texts shorter than the context");
    const a = await run(join(out, "onnx/text_model.onnx"), { input_ids: longest });
    assert.deepEqual(a.text_embeds!.dims, [CAPTIONS.length, d]);
    assert.ok(maxRelative(a.text_embeds!.data, juxtaText) < 1e-4);
    assert.deepEqual(a.last_hidden_state!.dims, [CAPTIONS.length, longest.dims[1], SMALL.text.width]);
    const full = tokenizer.encodeBatch(CAPTIONS, SMALL.text.contextLength);
    const b = await run(join(out, "onnx/text_model.onnx"), {
      input_ids: {
        data: BigInt64Array.from(full, BigInt),
        dims: [CAPTIONS.length, SMALL.text.contextLength],
      },
    });
    assert.ok(maxRelative(b.text_embeds!.data, juxtaText) < 1e-4);
    // A position's hidden state does not depend on later padding (causal attention).
    const w = SMALL.text.width;
    const len = longest.dims[1]!;
    const lastA = a.last_hidden_state!.data;
    const lastB = b.last_hidden_state!.data;
    for (let r = 0; r < CAPTIONS.length; r++) {
      const n = rows[r]!.length * w;
      const x = lastA.subarray(r * len * w, r * len * w + n);
      const y = lastB.subarray(r * SMALL.text.contextLength * w, r * SMALL.text.contextLength * w + n);
      assert.ok(maxRelative(x, y) < 1e-4, `row ${r}`);
    }
  });

  it("vision_model.onnx matches ClipEncoders.encodeImages", async () => {
    const r = await run(join(out, "onnx/vision_model.onnx"), {
      pixel_values: { data: pixels, dims: [3, 3, s, s] },
    });
    assert.deepEqual(r.image_embeds!.dims, [3, d]);
    assert.ok(maxRelative(r.image_embeds!.data, juxtaImage) < 1e-4);
  });

  it("model.onnx gives logits and normalized embeddings for any image and text batch sizes", async () => {
    const r = await run(join(out, "onnx/model.onnx"), {
      input_ids: padToLongest(rows, tokenizer.endId),
      pixel_values: { data: pixels, dims: [3, 3, s, s] },
    });
    const img = normalizeRows(juxtaImage, d);
    const txt = normalizeRows(juxtaText, d);
    const scale = Math.exp(2.1);
    assert.ok(maxRelative(r.image_embeds!.data, img) < 1e-4);
    assert.ok(maxRelative(r.text_embeds!.data, txt) < 1e-4);
    assert.deepEqual(r.logits_per_image!.dims, [3, CAPTIONS.length]);
    assert.ok(maxRelative(r.logits_per_image!.data, scaledDots(img, txt, d, scale)) < 1e-4);
    assert.deepEqual(r.logits_per_text!.dims, [CAPTIONS.length, 3]);
    assert.ok(maxRelative(r.logits_per_text!.data, scaledDots(txt, img, d, scale)) < 1e-4);
  });

  it("writes Hugging Face configs and a tokenizer that encodes as the model's", () => {
    const json = (f: string) => JSON.parse(readFileSync(join(out, f), "utf8"));
    const config = json("config.json");
    assert.equal(config.model_type, "clip");
    assert.equal(config.projection_dim, d);
    assert.equal(config.text_config.eos_token_id, tokenizer.endId);
    assert.equal(config.text_config.bos_token_id, tokenizer.startId);
    assert.equal(config.vision_config.image_size, s);
    const pre = json("preprocessor_config.json");
    assert.equal(pre.image_processor_type, "CLIPImageProcessor");
    assert.deepEqual(pre.size, { shortest_edge: s });
    assert.deepEqual(pre.crop_size, { height: s, width: s });
    assert.equal(pre.resample, 3);
    assert.deepEqual(pre.image_mean, [...loaded.preprocess.mean]);
    assert.deepEqual(pre.image_std, [...loaded.preprocess.std]);
    const tc = json("tokenizer_config.json");
    assert.equal(tc.tokenizer_class, "CLIPTokenizer");
    assert.equal(tc.model_max_length, SMALL.text.contextLength);
    assert.equal(tc.pad_token, tokenizer.endToken);
    const again = loadTokenizer(join(out, "tokenizer.json"));
    assert.deepEqual(
      Array.from(again.encodeBatch(CAPTIONS, 16)),
      Array.from(tokenizer.encodeBatch(CAPTIONS, 16)),
    );
  });
});

describe("export: refusals", () => {
  it("--dtype q8|fp16 applies to onnx only; an unknown dtype is refused before anything is written", () => {
    const out = join(tmp(), "q");
    assert.throws(
      () => exportModel(smallRun(), { format: "hf", out, dtype: "q8" }),
      /applies to --format onnx only/,
    );
    assert.throws(() => exportModel(smallRun(), { format: "onnx", out, dtype: "int4" }), /--dtype: expected/);
    assert.equal(existsSync(out), false);
  });

  it("an unknown format, or --out equal to the model folder, is a UserError", () => {
    const dir = smallRun();
    assert.throws(() => exportModel(dir, { format: "tflite", out: tmp() }), UserError);
    assert.throws(() => exportModel(dir, { format: "hf", out: dir }), UserError);
  });

  it("the command parses its flags and needs --model, --format and --out", async () => {
    const { values } = parseCommand(exportCommand, ["--model", "m", "--format", "hf", "--out", "o"]);
    assert.deepEqual({ ...values }, { model: "m", format: "hf", out: "o", dtype: "fp32" });
    const quantize = parseCommand(exportCommand, [
      "--model",
      "m",
      "--format",
      "onnx",
      "--out",
      "o",
      "--quantize",
      "q8",
    ]);
    assert.equal(quantize.values.dtype, "q8");
    assert.throws(
      () => parseCommand(exportCommand, ["--model", "m"]),
      /--format onnx\|hf\|open_clip is required/,
    );
    const out = join(tmp(), "cli");
    await exportCommand.run({ model: smallRun(), format: "hf", out, dtype: "fp32" }, []);
    assert.equal(loadClipModel(out).model.cfg.embedDim, SMALL.embedDim);
  });
});

describe("export --format onnx of clip-tiny (outputs computed by OpenCLIP)", {
  skip: needsShared("clip-tiny") || needsShared("clip-bpe"),
}, () => {
  it("text_model.onnx and vision_model.onnx reproduce io.safetensors", async () => {
    const out = join(tmp(), "clip-tiny");
    exportModel(TINY, { format: "onnx", out, tokenizer: BPE });
    const io = readSafetensors(join(TINY, "io.safetensors")).tensors;
    const ids = io.get("input_ids")!;
    const t = await run(join(out, "onnx/text_model.onnx"), {
      input_ids: { data: ids.data as BigInt64Array, dims: ids.shape },
    });
    assert.ok(maxRelative(t.text_embeds!.data, io.get("text_embeds")!.data as Float32Array) < 1e-4);
    const px = io.get("pixel_values")!;
    const v = await run(join(out, "onnx/vision_model.onnx"), {
      pixel_values: { data: px.data as Float32Array, dims: px.shape },
    });
    assert.ok(maxRelative(v.image_embeds!.data, io.get("image_embeds")!.data as Float32Array) < 1e-4);
    const m = await run(join(out, "onnx/model.onnx"), {
      input_ids: { data: ids.data as BigInt64Array, dims: ids.shape },
      pixel_values: { data: px.data as Float32Array, dims: px.shape },
    });
    const want = io.get("logits_per_image")!.data as Float32Array;
    assert.ok(maxRelative(m.logits_per_image!.data, want) < 1e-4);
  });
});
