/** CLIP evaluation preprocessing: PIL-style bicubic resize, torchvision sizes, centre crop, normalization. */
import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { Rng } from "../../src/engine/random.js";
import { CLIP_MEAN, CLIP_STD } from "../../src/image/augment.js";
import type { RgbImage } from "../../src/image/decode.js";
import { preprocessImages, resizeBicubic, shortestSideSize } from "../../src/image/preprocess.js";
import { UserError } from "../../src/util/errors.js";

async function smoothImage(width: number, height: number, seed: number): Promise<RgbImage> {
  const rng = new Rng(seed);
  const noise = new Uint8Array(width * height * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = rng.int(256);
  const data = await sharp(noise, { raw: { width, height, channels: 3 } })
    .blur(1.5)
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data) };
}

test("shrinking agrees with libvips' Catmull-Rom (an independent implementation) to a few levels", async () => {
  const img = await smoothImage(300, 220, 1);
  for (const [w, h] of [
    [87, 64],
    [150, 110],
  ] as const) {
    const ours = resizeBicubic(img, w, h);
    const vips = await sharp(img.data, { raw: { width: 300, height: 220, channels: 3 } })
      .resize({ width: w, height: h, fit: "fill", kernel: "cubic" })
      .raw()
      .toBuffer();
    let max = 0;
    let sum = 0;
    for (let i = 0; i < vips.length; i++) {
      const d = Math.abs((ours.data[i] as number) - (vips[i] as number));
      max = Math.max(max, d);
      sum += d;
    }
    assert.ok(max <= 4 && sum / vips.length < 0.3, `max ${max}, mean ${sum / vips.length}`);
  }
});

test("bicubic keeps flat images flat, same size is the identity, enlarging interpolates", () => {
  const flat: RgbImage = { width: 5, height: 3, data: new Uint8Array(45).fill(200) };
  assert.ok(resizeBicubic(flat, 17, 11).data.every((v) => v === 200));
  const rng = new Rng(2);
  const img: RgbImage = { width: 6, height: 4, data: new Uint8Array(72).map(() => rng.int(256)) };
  assert.deepEqual(resizeBicubic(img, 6, 4).data, img.data);
  // A horizontal ramp enlarged 2×: interior outputs are the midpoints the cubic reproduces exactly for lines.
  const ramp: RgbImage = { width: 8, height: 1, data: new Uint8Array(24) };
  for (let x = 0; x < 8; x++) ramp.data.fill(x * 30, x * 3, x * 3 + 3);
  const big = resizeBicubic(ramp, 16, 1);
  // Output pixel o samples source position (o + 0.5) / 2 − 0.5, i.e. value 30 · that on a linear ramp.
  for (let o = 4; o < 12; o++) assert.equal(big.data[o * 3], Math.round(30 * ((o + 0.5) / 2 - 0.5)));
});

test("torchvision Resize sizes: shortest side S, other side truncated", () => {
  assert.deepEqual(shortestSideSize(640, 480, 224), { width: 298, height: 224 }); // 298.67 → 298
  assert.deepEqual(shortestSideSize(480, 640, 224), { width: 224, height: 298 });
  assert.deepEqual(shortestSideSize(72, 72, 224), { width: 224, height: 224 });
});

test("preprocessImages: centre crop and normalization, [n, 3, S, S]", async () => {
  // 6 × 4 image, S = 4: no resize (shortest side already 4), crop columns 1..4 (round(2 / 2) = 1).
  const rng = new Rng(3);
  const pixels = new Uint8Array(6 * 4 * 3).map(() => rng.int(256));
  const png = await sharp(pixels, { raw: { width: 6, height: 4, channels: 3 } })
    .png()
    .toBuffer();
  const out = await preprocessImages(
    [
      { kind: "bytes", bytes: png, name: "a.png" },
      { kind: "raw", width: 6, height: 4, channels: 3, pixels },
    ],
    { size: 4 },
  );
  assert.equal(out.length, 2 * 3 * 16);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        const v = (pixels[(y * 6 + x + 1) * 3 + c] as number) / 255;
        const expected = (v - (CLIP_MEAN[c] as number)) / (CLIP_STD[c] as number);
        assert.ok(Math.abs((out[c * 16 + y * 4 + x] as number) - expected) < 1e-5);
        assert.equal(out[48 + c * 16 + y * 4 + x], out[c * 16 + y * 4 + x]);
      }
    }
  }
  const custom = await preprocessImages([{ kind: "raw", width: 6, height: 4, channels: 3, pixels }], {
    size: 4,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  });
  assert.ok(Math.abs((custom[0] as number) - (pixels[3] as number) / 255) < 1e-6);
  await assert.rejects(
    preprocessImages([{ kind: "bytes", bytes: new Uint8Array([1, 2, 3]), name: "bad.jpg" }], { size: 4 }),
    (e: Error) => e instanceof UserError && /image 1 of 1: unreadable image: bad\.jpg/.test(e.message),
  );
});
