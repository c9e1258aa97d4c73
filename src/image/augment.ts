/**
 * Training augmentations in plain JavaScript on 8-bit RGB images: random resized crop, horizontal flip,
 * colour jitter, random grayscale, Gaussian blur, then normalization to float32 CHW written into a slot of a
 * batch buffer, and random erasing on the normalized view. Randomness comes from a key per (seed, epoch, sample index, view) with one sub-stream per
 * transform, so an augmentation is reproducible anywhere (main thread or worker, after a resume) and forcing
 * one transform does not shift the random numbers of the others. Semantics follow torchvision's.
 */
import { mix32, Rng, streamKey } from "../engine/random.js";
import type { RgbImage } from "./decode.js";

export type Triple = readonly [number, number, number];

/** OpenAI CLIP's normalization constants (ImageNet-like, computed on its training data). */
export const CLIP_MEAN: Triple = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: Triple = [0.26862954, 0.26130258, 0.27577711];

export interface Normalization {
  mean: Triple;
  std: Triple;
}

export interface AugmentConfig {
  /** Random resized crop (area fraction and aspect ratio ranges); null: centre square crop of the shortest side. */
  crop: { scale: readonly [number, number]; ratio: readonly [number, number] } | null;
  flipP: number;
  /** torchvision ColorJitter strengths, applied (in a random order) with probability p. */
  jitter: { brightness: number; contrast: number; saturation: number; hue: number; p: number } | null;
  grayscaleP: number;
  /** Gaussian blur with sigma drawn from a range, probability p; the kernel reaches 3 sigma. */
  blur: { p: number; sigma: readonly [number, number] } | null;
  /**
   * Random erasing (Zhong et al. 2020; torchvision RandomErasing): with probability p, a rectangle of an
   * area fraction in `scale` and aspect ratio in `ratio` (log-uniform) is set to 0 after normalization,
   * i.e. to the normalization mean. Absent or null: none.
   */
  erase?: { p: number; scale: readonly [number, number]; ratio: readonly [number, number] } | null;
}

/** torchvision RandomErasing's defaults. */
export const RANDOM_ERASING = { p: 0.5, scale: [0.02, 0.33], ratio: [0.3, 3.3] } as const;

export type AugmentPreset = "clip" | "clip-strong" | "simclr" | "mocov2" | "none";

const RATIO: readonly [number, number] = [3 / 4, 4 / 3];
const STRONG_JITTER = { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 };

/**
 * - clip: OpenCLIP's training transform: random resized crop with scale (0.9, 1) and nothing else. No flip,
 *   because captions may say "left" or "right" (and text in images would be mirrored).
 * - clip-strong: against memorising a small captioned set (a few thousand pairs seen many times over):
 *   crop scale (0.5, 1), brightness, contrast and saturation jitter 0.3 with p 0.8. Still no flip, and no
 *   hue shift or grayscale, since captions name colours ("red heart", "green apple").
 * - simclr: SimCLR (Chen et al. 2020): crop (0.08, 1), flip 0.5, jitter (0.4, 0.4, 0.4, 0.1) with p 0.8,
 *   grayscale 0.2, blur p 0.5 with sigma in (0.1, 2).
 * - mocov2: MoCo v2 (Chen et al. 2020): as simclr with crop scale (0.2, 1).
 * - none: resize the shortest side and centre crop (evaluation-style, deterministic).
 */
export const AUGMENT_PRESETS: Readonly<Record<AugmentPreset, AugmentConfig>> = {
  clip: { crop: { scale: [0.9, 1], ratio: RATIO }, flipP: 0, jitter: null, grayscaleP: 0, blur: null },
  "clip-strong": {
    crop: { scale: [0.5, 1], ratio: RATIO },
    flipP: 0,
    jitter: { brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0, p: 0.8 },
    grayscaleP: 0,
    blur: null,
  },
  simclr: {
    crop: { scale: [0.08, 1], ratio: RATIO },
    flipP: 0.5,
    jitter: STRONG_JITTER,
    grayscaleP: 0.2,
    blur: { p: 0.5, sigma: [0.1, 2] },
  },
  mocov2: {
    crop: { scale: [0.2, 1], ratio: RATIO },
    flipP: 0.5,
    jitter: STRONG_JITTER,
    grayscaleP: 0.2,
    blur: { p: 0.5, sigma: [0.1, 2] },
  },
  none: { crop: null, flipP: 0, jitter: null, grayscaleP: 0, blur: null },
};

/** The random key of one augmented view. */
export function augmentKey(seed: number, epoch: number, index: number, view: number): number {
  return streamKey(seed, "augment", epoch, index, view);
}

/** A crop box in source pixels. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Python's round(): halves to even (torchvision's centre crop uses it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's RandomResizedCrop.get_params: up to 10 tries of (area, log-uniform aspect) that fit, then a
 * centre crop with the aspect clamped to the ratio range.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): Box {
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.next());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.next());
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y = rng.int(height - h + 1);
      const x = rng.int(width - w + 1);
      return { x, y, width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

/** The centred square of side min(width, height). */
export function centerSquareBox(width: number, height: number): Box {
  const s = Math.min(width, height);
  return { x: roundHalfEven((width - s) / 2), y: roundHalfEven((height - s) / 2), width: s, height: s };
}

/**
 * Resampling weights along one axis: output i covers source [start + i·step, start + (i+1)·step). A triangle
 * (bilinear) filter widened by the step when shrinking, so downscaling averages instead of aliasing (as PIL);
 * taps outside the box are clamped to its edge. Reversed order gives an exact mirror image.
 */
interface AxisTaps {
  first: Int32Array; // first source index per output
  count: Int32Array;
  weights: Float32Array; // `taps` per output
  taps: number;
}

function axisTaps(start: number, length: number, out: number, reverse: boolean): AxisTaps {
  const step = length / out;
  const support = Math.max(step, 1);
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(out);
  const count = new Int32Array(out);
  const weights = new Float32Array(out * taps);
  for (let o = 0; o < out; o++) {
    const i = reverse ? out - 1 - o : o;
    const centre = (i + 0.5) * step; // relative to the box
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(length, Math.ceil(centre + support));
    let sum = 0;
    let n = 0;
    for (let j = lo; j < hi && n < taps; j++, n++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      weights[o * taps + n] = w;
      sum += w;
    }
    if (sum === 0) {
      // An upscaled edge pixel: nearest source pixel.
      weights[o * taps] = 1;
      sum = 1;
      n = 1;
    }
    for (let k = 0; k < n; k++) weights[o * taps + k] = (weights[o * taps + k] as number) / sum;
    first[o] = start + lo;
    count[o] = n;
  }
  return { first, count, weights, taps };
}

/** Scratch buffers reused between calls (each worker thread has its own module instance). */
let rowsScratch = new Float32Array(0);
let planeScratch = new Float32Array(0);

/**
 * Crop `box` of `src`, resize it to size × size (mirrored if `flip`), into planar RGB floats in [0, 1]
 * (3 planes of size²) in `dst`.
 */
export function resampleBox(src: RgbImage, box: Box, size: number, flip: boolean, dst: Float32Array): void {
  const tx = axisTaps(box.x, box.width, size, flip);
  const ty = axisTaps(box.y, box.height, size, false);
  const rows = box.height;
  if (rowsScratch.length < rows * size * 3) rowsScratch = new Float32Array(rows * size * 3);
  const tmp = rowsScratch;
  const data = src.data;
  const stride = src.width * 3;
  // Horizontal pass over the box's rows: tmp[r][x][c].
  for (let r = 0; r < rows; r++) {
    const rowBase = (box.y + r) * stride;
    for (let o = 0; o < size; o++) {
      let a = 0;
      let b = 0;
      let c = 0;
      const n = tx.count[o] as number;
      let p = rowBase + (tx.first[o] as number) * 3;
      const wBase = o * tx.taps;
      for (let k = 0; k < n; k++, p += 3) {
        const w = tx.weights[wBase + k] as number;
        a += w * (data[p] as number);
        b += w * (data[p + 1] as number);
        c += w * (data[p + 2] as number);
      }
      const t = (r * size + o) * 3;
      tmp[t] = a;
      tmp[t + 1] = b;
      tmp[t + 2] = c;
    }
  }
  // Vertical pass into planes, scaled to [0, 1].
  const plane = size * size;
  for (let o = 0; o < size; o++) {
    const n = ty.count[o] as number;
    const r0 = (ty.first[o] as number) - box.y;
    const wBase = o * ty.taps;
    for (let x = 0; x < size; x++) {
      let a = 0;
      let b = 0;
      let c = 0;
      let t = (r0 * size + x) * 3;
      for (let k = 0; k < n; k++, t += size * 3) {
        const w = ty.weights[wBase + k] as number;
        a += w * (tmp[t] as number);
        b += w * (tmp[t + 1] as number);
        c += w * (tmp[t + 2] as number);
      }
      const q = o * size + x;
      dst[q] = a / 255;
      dst[plane + q] = b / 255;
      dst[2 * plane + q] = c / 255;
    }
  }
}

const clamp01 = (v: number): number => (v < 0 ? 0 : Math.min(v, 1));

// torchvision's grayscale weights (ITU-R 601-2 luma).
const LR = 0.2989;
const LG = 0.587;
const LB = 0.114;

function adjustBrightness(img: Float32Array, plane: number, f: number): void {
  for (let i = 0; i < 3 * plane; i++) img[i] = clamp01((img[i] as number) * f);
}

function adjustContrast(img: Float32Array, plane: number, f: number): void {
  let sum = 0;
  for (let i = 0; i < plane; i++) {
    sum += LR * (img[i] as number) + LG * (img[plane + i] as number) + LB * (img[2 * plane + i] as number);
  }
  const m = (1 - f) * (sum / plane);
  for (let i = 0; i < 3 * plane; i++) img[i] = clamp01(f * (img[i] as number) + m);
}

function adjustSaturation(img: Float32Array, plane: number, f: number): void {
  for (let i = 0; i < plane; i++) {
    const r = img[i] as number;
    const g = img[plane + i] as number;
    const b = img[2 * plane + i] as number;
    const l = (1 - f) * (LR * r + LG * g + LB * b);
    img[i] = clamp01(f * r + l);
    img[plane + i] = clamp01(f * g + l);
    img[2 * plane + i] = clamp01(f * b + l);
  }
}

/** Rotate hue by `shift` turns (in [-0.5, 0.5]) through HSV. */
function adjustHue(img: Float32Array, plane: number, shift: number): void {
  for (let i = 0; i < plane; i++) {
    const r = img[i] as number;
    const g = img[plane + i] as number;
    const b = img[2 * plane + i] as number;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const chroma = max - min;
    if (chroma === 0) continue; // gray: hue undefined, unchanged
    let h: number;
    if (max === r) h = (g - b) / chroma / 6;
    else if (max === g) h = ((b - r) / chroma + 2) / 6;
    else h = ((r - g) / chroma + 4) / 6;
    h = (h + shift) % 1;
    if (h < 0) h += 1;
    const h6 = h * 6;
    const sector = Math.floor(h6);
    const f = h6 - sector;
    const v = max;
    const p = min;
    const q = max - chroma * f;
    const t = min + chroma * f;
    let nr: number;
    let ng: number;
    let nb: number;
    switch (sector % 6) {
      case 0:
        [nr, ng, nb] = [v, t, p];
        break;
      case 1:
        [nr, ng, nb] = [q, v, p];
        break;
      case 2:
        [nr, ng, nb] = [p, v, t];
        break;
      case 3:
        [nr, ng, nb] = [p, q, v];
        break;
      case 4:
        [nr, ng, nb] = [t, p, v];
        break;
      default:
        [nr, ng, nb] = [v, p, q];
    }
    img[i] = nr;
    img[plane + i] = ng;
    img[2 * plane + i] = nb;
  }
}

function toGrayscale(img: Float32Array, plane: number): void {
  for (let i = 0; i < plane; i++) {
    const l = LR * (img[i] as number) + LG * (img[plane + i] as number) + LB * (img[2 * plane + i] as number);
    img[i] = l;
    img[plane + i] = l;
    img[2 * plane + i] = l;
  }
}

/** Separable Gaussian blur of each plane, kernel radius ceil(3 sigma), reflected borders (as torchvision). */
function gaussianBlur(img: Float32Array, size: number, sigma: number): void {
  const radius = Math.max(1, Math.min(Math.ceil(3 * sigma), size - 1));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++)
    sum += kernel[k + radius] = Math.exp((-k * k) / (2 * sigma * sigma));
  for (let k = 0; k < kernel.length; k++) kernel[k] = (kernel[k] as number) / sum;
  // Each row/column is copied into a line padded by reflection, so the inner loop has no bounds logic.
  const padded = new Float32Array(size + 2 * radius);
  const reflect = (i: number): number => (i < 0 ? -i : i >= size ? 2 * size - 2 - i : i);
  const convolve = (base: number, step: number): void => {
    for (let k = 0; k < padded.length; k++) padded[k] = img[base + reflect(k - radius) * step] as number;
    for (let x = 0; x < size; x++) {
      let a = 0;
      for (let k = 0; k < kernel.length; k++) a += (kernel[k] as number) * (padded[x + k] as number);
      img[base + x * step] = a;
    }
  };
  for (let c = 0; c < 3; c++) {
    const plane = c * size * size;
    for (let y = 0; y < size; y++) convolve(plane + y * size, 1);
    for (let x = 0; x < size; x++) convolve(plane + x, size);
  }
}

function colourJitter(
  img: Float32Array,
  plane: number,
  j: NonNullable<AugmentConfig["jitter"]>,
  rng: Rng,
): void {
  const factor = (s: number): number => Math.max(0, 1 - s) + (1 + s - Math.max(0, 1 - s)) * rng.next();
  const order = rng.shuffle([0, 1, 2, 3]);
  const b = factor(j.brightness);
  const c = factor(j.contrast);
  const s = factor(j.saturation);
  const h = -j.hue + 2 * j.hue * rng.next();
  for (const op of order) {
    if (op === 0 && j.brightness > 0) adjustBrightness(img, plane, b);
    else if (op === 1 && j.contrast > 0) adjustContrast(img, plane, c);
    else if (op === 2 && j.saturation > 0) adjustSaturation(img, plane, s);
    else if (op === 3 && j.hue > 0) adjustHue(img, plane, h);
  }
}

// Sub-stream per transform: changing one transform's probability leaves the others' draws unchanged.
const Stream = { Crop: 1, Flip: 2, Jitter: 3, Gray: 4, Blur: 5, Erase: 6 } as const;
const sub = (key: number, s: number): Rng => new Rng(mix32(key ^ Math.imul(s, 0x27d4eb2d)));

/**
 * One augmented view of `src` as normalized float32 CHW (3 × size × size) written into slot `slot` of `out`
 * (a batch buffer [B, 3, size, size]).
 */
export function augmentInto(
  src: RgbImage,
  size: number,
  cfg: AugmentConfig,
  norm: Normalization,
  key: number,
  out: Float32Array,
  slot: number,
): void {
  const plane = size * size;
  if (planeScratch.length < 3 * plane) planeScratch = new Float32Array(3 * plane);
  const img = planeScratch;
  const box = cfg.crop
    ? randomResizedCropBox(src.width, src.height, cfg.crop.scale, cfg.crop.ratio, sub(key, Stream.Crop))
    : centerSquareBox(src.width, src.height);
  const flip = sub(key, Stream.Flip).next() < cfg.flipP;
  resampleBox(src, box, size, flip, img);
  if (cfg.jitter) {
    const rng = sub(key, Stream.Jitter);
    if (rng.next() < cfg.jitter.p) colourJitter(img, plane, cfg.jitter, rng);
  }
  if (sub(key, Stream.Gray).next() < cfg.grayscaleP) toGrayscale(img, plane);
  if (cfg.blur) {
    const rng = sub(key, Stream.Blur);
    if (rng.next() < cfg.blur.p) {
      const [lo, hi] = cfg.blur.sigma;
      gaussianBlur(img, size, lo + (hi - lo) * rng.next());
    }
  }
  normalizeInto(img, plane, norm, out, slot * 3 * plane);
  if (cfg.erase) {
    const rng = sub(key, Stream.Erase);
    if (rng.next() < cfg.erase.p) {
      const box = erasingBox(size, cfg.erase.scale, cfg.erase.ratio, rng);
      if (box) eraseBox(out, slot * 3 * plane, size, box);
    }
  }
}

/**
 * torchvision RandomErasing.get_params on a size × size image: up to 10 tries of (area, log-uniform
 * aspect) that fit; none fitting erases nothing.
 */
export function erasingBox(
  size: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): Box | undefined {
  const area = size * size;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.next());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.next());
    const h = Math.round(Math.sqrt(target * aspect));
    const w = Math.round(Math.sqrt(target / aspect));
    if (h > 0 && w > 0 && h < size && w < size) {
      const y = rng.int(size - h + 1);
      const x = rng.int(size - w + 1);
      return { x, y, width: w, height: h };
    }
  }
  return undefined;
}

function eraseBox(out: Float32Array, offset: number, size: number, box: Box): void {
  for (let c = 0; c < 3; c++)
    for (let y = box.y; y < box.y + box.height; y++) {
      const row = offset + c * size * size + y * size;
      out.fill(0, row + box.x, row + box.x + box.width);
    }
}

/** (v − mean) / std per channel, planar [0, 1] floats into `out` at `offset`. */
export function normalizeInto(
  img: Float32Array,
  plane: number,
  norm: Normalization,
  out: Float32Array,
  offset: number,
): void {
  for (let c = 0; c < 3; c++) {
    const m = norm.mean[c] as number;
    const inv = 1 / (norm.std[c] as number);
    const base = c * plane;
    for (let i = 0; i < plane; i++) out[offset + base + i] = ((img[base + i] as number) - m) * inv;
  }
}
