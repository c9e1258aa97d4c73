/**
 * The ONNX export as transformers.js uses it: the zero-shot-image-classification pipeline loads the folder
 * offline and must rank labels as Juxta's own encoders do. Runs when `@huggingface/transformers` is
 * importable (a devDependency), and is skipped with the reason otherwise.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { WeightFormat } from "../../src/engine/index.js";
import { DTYPE_SUFFIX, exportModel } from "../../src/export/index.js";
import { preprocessImages } from "../../src/image/preprocess.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { loadClipModel } from "../../src/pretrained/open.js";
import { needsShared, sharedData } from "../helpers.js";
import { normalizeRows, randomRgb, SMALL_RESNET, scaledDots, smallRun, tmp } from "./fixtures.js";

const PACKAGE = "@huggingface/transformers";

interface Scored {
  label: string;
  score: number;
}
type Classifier = (
  images: unknown[],
  labels: string[],
  opts: { hypothesis_template: string },
) => Promise<Scored[][]>;
interface TransformersJs {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  pipeline: (task: string, model: string, opts: { dtype: string }) => Promise<Classifier>;
  RawImage: new (data: Uint8ClampedArray, width: number, height: number, channels: number) => unknown;
}

async function importTransformers(): Promise<{ lib?: TransformersJs; skip: string | false }> {
  try {
    // A variable specifier: the package is optional, so its absence must not fail type checking.
    const lib = (await import(PACKAGE)) as TransformersJs;
    return { lib, skip: false };
  } catch (e) {
    const reason = `skipped: ${PACKAGE} is not importable (${(e as Error).message.split("\n")[0]}); add it as a devDependency to run this test`;
    console.log(reason);
    return { skip: reason };
  }
}

const { lib, skip } = await importTransformers();
const TEMPLATE = "a photo of a {}.";
const LABELS = ["cat", "dog", "red car", "diagram", "apple", "smiling face"];

/** Juxta's own zero-shot scores: softmax over exp(logit_scale) × cosine, one row per image. */
async function juxtaScores(
  modelDir: string,
  images: Uint8Array[],
  tokenizer?: string,
  weights: WeightFormat = "fp32",
): Promise<Scored[][]> {
  const loaded = loadClipModel(modelDir, { tokenizer });
  const { model, preprocess } = loaded;
  const s = preprocess.imageSize;
  const pixels = await preprocessImages(
    images.map((p) => ({ kind: "raw", width: s, height: s, channels: 3, pixels: p })),
    { size: s, mean: preprocess.mean, std: preprocess.std },
  );
  const enc = await ClipEncoders.create(model, { weights });
  const texts = LABELS.map((l) => TEMPLATE.replace("{}", l));
  const d = model.cfg.embedDim;
  const img = normalizeRows(await enc.encodeImages(pixels), d);
  const txt = normalizeRows(
    await enc.encodeTexts(loaded.tokenizer.encodeBatch(texts, model.cfg.text.contextLength)),
    d,
  );
  await enc.release();
  const scale = Math.exp(Math.min(model.logit_scale.data[0] as number, Math.log(100)));
  const logits = scaledDots(img, txt, d, scale);
  return images.map((_, i) => {
    const row = Array.from(logits.subarray(i * LABELS.length, (i + 1) * LABELS.length));
    const max = Math.max(...row);
    const e = row.map((x) => Math.exp(x - max));
    const total = e.reduce((a, b) => a + b, 0);
    return e
      .map((x, j) => ({ label: LABELS[j] as string, score: x / total }))
      .sort((a, b) => b.score - a.score);
  });
}

/**
 * Export at `dtype` and classify with transformers.js at that dtype, against Juxta's own encoders at the
 * same dtype. q8 is compared within `tolerance` only: Juxta keeps narrow attention's q/k/v in float32 (its
 * fused kernel is faster there) where the portable file quantizes every product.
 */
async function checkPipeline(
  modelDir: string,
  tokenizer?: string,
  dtype: WeightFormat = "fp32",
  tolerance = 1e-4,
): Promise<void> {
  const t = lib as TransformersJs;
  const parent = tmp();
  const name = "exported-clip";
  const files = exportModel(modelDir, { format: "onnx", out: join(parent, name), tokenizer, dtype });
  // Only the dtype's own files: a fallback to another file would not test this one.
  assert.ok(files.includes(`onnx/vision_model${DTYPE_SUFFIX[dtype]}.onnx`));
  assert.ok(dtype === "fp32" || !files.includes("onnx/vision_model.onnx"));
  t.env.allowRemoteModels = false;
  t.env.allowLocalModels = true;
  t.env.localModelPath = parent;
  const classify = await t.pipeline("zero-shot-image-classification", name, { dtype });
  const s = loadClipModel(modelDir, { tokenizer }).preprocess.imageSize;
  // Images already S × S: the resize is then the identity in both, so only the model is compared.
  const images = [randomRgb(s, s, 1), randomRgb(s, s, 2), randomRgb(s, s, 3)];
  const got = await classify(
    images.map((p) => new t.RawImage(new Uint8ClampedArray(p), s, s, 3)),
    LABELS,
    { hypothesis_template: TEMPLATE },
  );
  const want = await juxtaScores(modelDir, images, tokenizer, dtype);
  assert.equal(got.length, want.length);
  got.forEach((row, i) => {
    if (tolerance <= 1e-4)
      assert.deepEqual(
        row.map((r) => r.label),
        want[i]!.map((r) => r.label),
        `image ${i}: ranking`,
      );
    const wanted = new Map(want[i]!.map((r) => [r.label, r.score]));
    for (const r of row) {
      const diff = Math.abs(r.score - (wanted.get(r.label) as number));
      assert.ok(diff < tolerance, `${dtype} image ${i}: ${r.label} differs by ${diff}`);
    }
  });
}

describe("transformers.js loads the ONNX export (zero-shot-image-classification)", { skip }, () => {
  it("a random Juxta run: the pipeline ranks labels as Juxta does", async () => {
    await checkPipeline(smallRun(11));
  });

  it("a run with a ResNet image tower (tiny-resnet's kind): the pipeline ranks labels as Juxta does", async () => {
    await checkPipeline(smallRun(12, SMALL_RESNET));
  });

  it("--dtype fp16 and q8 files load with transformers.js's dtype option and score as Juxta does", async () => {
    const run = smallRun(11);
    await checkPipeline(run, undefined, "fp16");
    await checkPipeline(run, undefined, "q8", 0.02);
  });

  it("clip-tiny with CLIP's tokenizer: the pipeline ranks labels as Juxta does", {
    skip: needsShared("clip-tiny") || needsShared("clip-bpe"),
  }, async () => {
    await checkPipeline(
      join(sharedData, "clip-tiny"),
      join(sharedData, "clip-bpe", "bpe_simple_vocab_16e6.txt.gz"),
    );
  });
});
