/** Shared pieces of the export tests: a small random CLIP saved as a Juxta run, and comparisons. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLIP, type ClipConfig } from "../../src/models/clip.js";
import { saveClip } from "../../src/models/saved.js";
import { trainBpe } from "../../src/text/index.js";

export const SMALL: ClipConfig = {
  embedDim: 24,
  vision: {
    type: "vit",
    imageSize: 32,
    patchSize: 8,
    width: 32,
    layers: 2,
    heads: 2,
    mlpRatio: 2,
    act: "quick_gelu",
    lnEps: 1e-5,
  },
  text: {
    vocabSize: 600,
    contextLength: 16,
    width: 32,
    layers: 2,
    heads: 4,
    mlpRatio: 2,
    act: "gelu",
    lnEps: 1e-5,
  },
};

/** SMALL with a small ResNet image tower (the tiny-resnet preset's kind). */
export const SMALL_RESNET: ClipConfig = {
  ...SMALL,
  vision: { type: "resnet", imageSize: 32, stemStride: 2, widths: [8, 16], blocks: [1, 1] },
};

export const CAPTIONS = [
  "a photo of a cat",
  "a photo of a dog",
  "a diagram of a cat",
  "red apple on a table",
  "a smiling face with open mouth",
  "a photo of a red car",
];

export function tmp(): string {
  return mkdtempSync(join(tmpdir(), "juxta-"));
}

/**
 * A random model (SMALL by default) with a tokenizer trained on CAPTIONS, saved as a Juxta run; returns its
 * folder.
 */
export function smallRun(seed = 3, config: ClipConfig = SMALL): string {
  const dir = tmp();
  const model = new CLIP(structuredClone(config)).initialize(seed);
  // A non-default temperature, so that a dropped or defaulted logit_scale shows.
  model.logit_scale.data[0] = 2.1;
  // BatchNorm statistics away from their initial 0 and 1, so that an export ignoring them shows.
  for (const b of model.buffers()) {
    for (let i = 0; i < b.data.length; i++) {
      if (b.name.endsWith("runningMean")) b.data[i] = 0.1 * Math.sin(i + 1);
      if (b.name.endsWith("runningVar")) b.data[i] = 0.5 + 0.25 * Math.cos(i);
    }
  }
  const tokenizer = trainBpe(CAPTIONS, { vocabSize: 560, minFrequency: 1 });
  saveClip(dir, model, tokenizer, { step: 0 });
  return dir;
}

/** max |a − b| / max |b|. */
export function maxRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i] as number));
    worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  }
  return worst / scale;
}

/** Row-wise L2 normalization of [n, d]. */
export function normalizeRows(x: Float32Array, d: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let n = 0;
    for (let k = 0; k < d; k++) n += (x[r * d + k] as number) ** 2;
    const s = 1 / Math.sqrt(n);
    for (let k = 0; k < d; k++) out[r * d + k] = (x[r * d + k] as number) * s;
  }
  return out;
}

/** scale · A·Bᵀ for row-normalized A [n, d] and B [m, d]. */
export function scaledDots(a: Float32Array, b: Float32Array, d: number, scale: number): Float32Array {
  const n = a.length / d;
  const m = b.length / d;
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += (a[i * d + k] as number) * (b[j * d + k] as number);
      out[i * m + j] = scale * dot;
    }
  return out;
}

/** Deterministic pseudo-random RGB bytes (no two images alike). */
export function randomRgb(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) % 256;
  }
  return out;
}
