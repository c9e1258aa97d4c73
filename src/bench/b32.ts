/**
 * ViT-B/32-sized embedding throughput: images and texts per second through the `b32` preset's inference
 * graphs at batch 32 (random weights: the cost does not depend on their values), median of a few runs.
 */
import { fillNormal } from "../engine/random.js";
import { CLIP } from "../models/clip.js";
import { ClipEncoders } from "../models/encoders.js";
import { presetConfig } from "../models/presets.js";
import { median, round, timeRuns } from "./timing.js";

export interface B32BenchResult {
  b32_images_per_s: number;
  b32_texts_per_s: number;
}

export async function benchB32(opts: { batch?: number; runs?: number } = {}): Promise<B32BenchResult> {
  const batch = opts.batch ?? 32;
  const runs = opts.runs ?? 3;
  const cfg = presetConfig("b32");
  const model = new CLIP(cfg).initialize(0);
  const encoders = await ClipEncoders.create(model, { chunk: batch });
  const s = cfg.vision.imageSize;
  const { contextLength, vocabSize } = cfg.text;
  const images = fillNormal(new Float32Array(batch * 3 * s * s), 32) as Float32Array;
  // Full-length texts ending in the end token (the largest id), as a long caption would be.
  const tokens = new Int32Array(batch * contextLength);
  for (let i = 0; i < tokens.length; i++) tokens[i] = 1 + (((i * 2654435761) >>> 0) % (vocabSize - 3));
  for (let r = 0; r < batch; r++) tokens[r * contextLength + contextLength - 1] = vocabSize - 1;
  try {
    const imageTimes = await timeRuns(() => encoders.encodeImages(images), { warmup: 1, runs });
    const textTimes = await timeRuns(() => encoders.encodeTexts(tokens), { warmup: 1, runs });
    return {
      b32_images_per_s: round((batch / median(imageTimes)) * 1000),
      b32_texts_per_s: round((batch / median(textTimes)) * 1000),
    };
  } finally {
    await encoders.release();
  }
}
