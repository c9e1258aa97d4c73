/** Augmentations: determinism per key, crop boxes, flip, grayscale, jitter/blur sanity, erasing, normalization. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/engine/random.js";
import {
  AUGMENT_PRESETS,
  type AugmentConfig,
  augmentInto,
  augmentKey,
  CLIP_MEAN,
  CLIP_STD,
  centerSquareBox,
  type Normalization,
  RANDOM_ERASING,
  randomResizedCropBox,
  resampleBox,
  roundHalfEven,
} from "../../src/image/augment.js";
import type { RgbImage } from "../../src/image/decode.js";

const CLIP_NORM: Normalization = { mean: CLIP_MEAN, std: CLIP_STD };
const IDENTITY: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };

function randomImage(width: number, height: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return { width, height, data };
}

function augment(img: RgbImage, cfg: AugmentConfig, key: number, size = 16, norm = CLIP_NORM): Float32Array {
  const out = new Float32Array(2 * 3 * size * size).fill(Number.NaN);
  augmentInto(img, size, cfg, norm, key, out, 1); // slot 1: slot 0 must stay untouched
  assert.ok(out.subarray(0, 3 * size * size).every(Number.isNaN));
  return out.subarray(3 * size * size);
}

test("same key → identical output; another epoch, index or view → different", () => {
  const img = randomImage(40, 30, 1);
  for (const preset of ["clip", "simclr", "mocov2"] as const) {
    const cfg = AUGMENT_PRESETS[preset];
    const a = augment(img, cfg, augmentKey(7, 3, 5, 0));
    assert.deepEqual(augment(img, cfg, augmentKey(7, 3, 5, 0)), a);
    for (const key of [
      augmentKey(7, 4, 5, 0),
      augmentKey(7, 3, 6, 0),
      augmentKey(7, 3, 5, 1),
      augmentKey(8, 3, 5, 0),
    ]) {
      assert.notDeepEqual(augment(img, cfg, key), a, preset);
    }
  }
  // "none" is deterministic whatever the key.
  assert.deepEqual(augment(img, AUGMENT_PRESETS.none, 1), augment(img, AUGMENT_PRESETS.none, 2));
});

test("random resized crop boxes stay inside the image and honour scale and ratio", () => {
  const rng = new Rng(3);
  for (const [w, h] of [
    [80, 80],
    [107, 80],
    [80, 300],
    [500, 40],
    [3, 2],
    [1, 1],
  ] as const) {
    for (const scale of [
      [0.08, 1],
      [0.9, 1],
    ] as const) {
      for (let t = 0; t < 300; t++) {
        const b = randomResizedCropBox(w, h, scale, [3 / 4, 4 / 3], rng);
        assert.ok(b.x >= 0 && b.y >= 0 && b.width >= 1 && b.height >= 1, JSON.stringify(b));
        assert.ok(b.x + b.width <= w && b.y + b.height <= h, `${w}x${h}: ${JSON.stringify(b)}`);
        const area = (b.width * b.height) / (w * h);
        if (w >= 80 && h >= 80 && w / h <= 4 / 3 && w / h >= 3 / 4) {
          // Fitting draws: area within the scale range (up to rounding to whole pixels).
          assert.ok(area > scale[0] * 0.9 && area < scale[1] * 1.1, `${area}`);
        }
      }
    }
  }
  // 500x40 at scale (0.9, 1) never fits 3/4..4/3: centre crop with the ratio clamped to 4/3.
  assert.deepEqual(randomResizedCropBox(500, 40, [0.9, 1], [3 / 4, 4 / 3], new Rng(1)), {
    x: 223,
    y: 0,
    width: 53,
    height: 40,
  });
  assert.deepEqual(centerSquareBox(7, 4), { x: 2, y: 0, width: 4, height: 4 }); // round(1.5) = 2
  assert.deepEqual(
    [roundHalfEven(2.5), roundHalfEven(3.5), roundHalfEven(-0.5), roundHalfEven(1.2)],
    [2, 4, -0, 1],
  );
});

test("resampling a whole image to its own size is exact; a flip is an exact mirror", () => {
  const img = randomImage(12, 12, 2);
  const size = 12;
  const plain = new Float32Array(3 * size * size);
  resampleBox(img, { x: 0, y: 0, width: 12, height: 12 }, size, false, plain);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        const v = plain[c * size * size + y * size + x] as number;
        assert.ok(Math.abs(v - (img.data[(y * 12 + x) * 3 + c] as number) / 255) < 1e-6);
      }
    }
  }
  // Flip on vs off with the same key: the crop and everything else are drawn from independent streams.
  const src = randomImage(50, 37, 4);
  const base = AUGMENT_PRESETS.simclr;
  for (let key = 0; key < 5; key++) {
    const a = augment(src, { ...base, flipP: 0 }, key, 16);
    const b = augment(src, { ...base, flipP: 1 }, key, 16);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const i = c * 256 + y * 16;
          assert.ok(Math.abs((a[i + x] as number) - (b[i + 15 - x] as number)) < 1e-5);
        }
      }
    }
    assert.notDeepEqual(a, b);
  }
});

test("grayscale gives equal channels (luma of the colour image)", () => {
  const src = randomImage(30, 30, 5);
  const cfg: AugmentConfig = { ...AUGMENT_PRESETS.none, grayscaleP: 1 };
  const g = augment(src, cfg, 0, 30, IDENTITY);
  const colour = augment(src, AUGMENT_PRESETS.none, 0, 30, IDENTITY);
  const p = 900;
  for (let i = 0; i < p; i++) {
    assert.equal(g[i], g[p + i]);
    assert.equal(g[i], g[2 * p + i]);
    const luma =
      0.2989 * (colour[i] as number) +
      0.587 * (colour[p + i] as number) +
      0.114 * (colour[2 * p + i] as number);
    assert.ok(Math.abs((g[i] as number) - luma) < 1e-6);
  }
});

test("normalization: (v/255 − mean) / std per channel, CHW", () => {
  const img: RgbImage = { width: 10, height: 6, data: new Uint8Array(180) };
  for (let i = 0; i < 60; i++) img.data.set([255, 128, 0], i * 3);
  const out = augment(img, AUGMENT_PRESETS.none, 0, 4);
  const expected = [255, 128, 0].map(
    (v, c) => (v / 255 - (CLIP_MEAN[c] as number)) / (CLIP_STD[c] as number),
  );
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 16; i++)
      assert.ok(Math.abs((out[c * 16 + i] as number) - (expected[c] as number)) < 1e-5);
  }
});

test("jitter and blur change pixels but keep them in range; brightness 0 and blur keep a flat image flat", () => {
  const src = randomImage(40, 40, 6);
  const strong: AugmentConfig = {
    crop: null,
    flipP: 0,
    jitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 1 },
    grayscaleP: 0,
    blur: { p: 1, sigma: [0.1, 2] },
  };
  const plain = augment(src, AUGMENT_PRESETS.none, 0, 20, IDENTITY);
  for (let key = 0; key < 4; key++) {
    const out = augment(src, strong, key, 20, IDENTITY);
    assert.notDeepEqual(out, plain);
    assert.ok(out.every((v) => v >= 0 && v <= 1));
  }
  const flat: RgbImage = { width: 20, height: 20, data: new Uint8Array(1200).fill(100) };
  const flatOut = augment(flat, { ...strong, jitter: null }, 0, 20, IDENTITY);
  assert.ok(flatOut.every((v) => Math.abs(v - 100 / 255) < 1e-6));
  // Hue rotation alone keeps gray pixels gray and moves a pure red.
  const hueOnly: AugmentConfig = {
    ...strong,
    blur: null,
    jitter: { brightness: 0, contrast: 0, saturation: 0, hue: 0.5, p: 1 },
  };
  const red: RgbImage = { width: 4, height: 4, data: new Uint8Array(48) };
  for (let i = 0; i < 16; i++) red.data.set([255, 0, 0], i * 3);
  const shifted = augment(red, hueOnly, 3, 4, IDENTITY);
  // HSV value and saturation are kept: each pixel still has a channel at 1 and one at 0, but is no longer red.
  const px = [shifted[0], shifted[16], shifted[32]] as number[];
  assert.ok(Math.abs(Math.max(...px) - 1) < 1e-6 && Math.abs(Math.min(...px)) < 1e-6, `${px}`);
  assert.ok((px[1] as number) > 0.01 || (px[2] as number) > 0.01, `${px}`);
  assert.ok(augment(flat, hueOnly, 3, 4, IDENTITY).every((v) => Math.abs(v - 100 / 255) < 1e-6));
});

test("random erasing sets one rectangle to the mean (0 after normalization), the same for the same key", () => {
  const src = randomImage(20, 20, 7);
  const erase: AugmentConfig = {
    ...AUGMENT_PRESETS.none,
    erase: { p: 1, scale: [0.1, 0.2], ratio: [0.5, 2] },
  };
  const plain = augment(src, AUGMENT_PRESETS.none, 0, 20);
  for (let key = 0; key < 5; key++) {
    const out = augment(src, erase, key, 20);
    assert.deepEqual(out, augment(src, erase, key, 20));
    const zeroed = [...out.keys()].filter((i) => out[i] !== plain[i]);
    // Every changed value is 0, and the changed pixels form one rectangle of 10–20 % of the area per channel.
    assert.ok(zeroed.every((i) => out[i] === 0));
    const ys = new Set(zeroed.map((i) => Math.floor((i % 400) / 20)));
    const xs = new Set(zeroed.map((i) => i % 20));
    assert.equal(zeroed.length, 3 * ys.size * xs.size);
    assert.ok(
      ys.size * xs.size >= 0.1 * 400 * 0.8 && ys.size * xs.size <= 0.2 * 400 * 1.2,
      `${ys.size}×${xs.size}`,
    );
  }
  // p 0 erases nothing, and adding erasing leaves the other transforms' random draws unchanged.
  assert.deepEqual(augment(src, { ...erase, erase: { ...erase.erase!, p: 0 } }, 3, 20), plain);
  const simclr = AUGMENT_PRESETS.simclr;
  const a = augment(src, simclr, 9, 20);
  const b = augment(src, { ...simclr, erase: { ...RANDOM_ERASING, p: 1 } }, 9, 20);
  assert.ok([...a.keys()].every((i) => b[i] === 0 || b[i] === a[i]));
});
