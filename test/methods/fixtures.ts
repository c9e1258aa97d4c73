/** A tiny labelled image set for the method tests: coloured squares, discs and triangles as PNGs. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import type { ImageEncoderConfig } from "../../src/models/image-encoder.js";

export const SHAPES = ["disc", "square", "triangle"] as const;

/** A 16 px CIFAR-style ResNet with two stages and a small head: fast enough for a few steps in a test. */
export const TINY_ENCODER: ImageEncoderConfig = {
  backbone: { type: "resnet", imageSize: 16, stemStride: 1, widths: [8, 16], blocks: [1, 1] },
  head: { hidden: 16, out: 16 },
};

function inside(
  shape: (typeof SHAPES)[number],
  x: number,
  y: number,
  cx: number,
  cy: number,
  r: number,
): boolean {
  const dx = x - cx;
  const dy = y - cy;
  if (shape === "disc") return dx * dx + dy * dy <= r * r;
  if (shape === "square") return Math.abs(dx) <= r * 0.8 && Math.abs(dy) <= r * 0.8;
  return dy <= r * 0.8 && dy >= -r && Math.abs(dx) <= (dy + r) / 2;
}

/**
 * `perShape` images of each shape at 20 × 20: shape colour, background, centre and size vary with the
 * index (deterministically), so only the shape tells the classes apart. Writes `name.jsonl`.
 */
export async function writeShapeSet(
  dir: string,
  name: string,
  perShape: number,
  offset = 0,
): Promise<string> {
  mkdirSync(join(dir, name), { recursive: true });
  const rows: string[] = [];
  const side = 20;
  for (const [k, shape] of SHAPES.entries()) {
    for (let i = 0; i < perShape; i++) {
      const j = i + offset;
      const fg = [(j * 97 + 40) % 256, (j * 57 + 120) % 256, (j * 151 + 200) % 256];
      const bg = [(j * 31 + 10) % 80, (j * 17 + 30) % 80, (j * 23 + 5) % 80];
      const cx = 8 + ((j * 3) % 5);
      const cy = 8 + ((j * 7) % 5);
      const r = 4 + (j % 3);
      const px = new Uint8Array(side * side * 3);
      for (let y = 0; y < side; y++)
        for (let x = 0; x < side; x++) px.set(inside(shape, x, y, cx, cy, r) ? fg : bg, (y * side + x) * 3);
      const file = join(dir, name, `${shape}-${k}-${j}.png`);
      writeFileSync(
        file,
        await sharp(px, { raw: { width: side, height: side, channels: 3 } })
          .png()
          .toBuffer(),
      );
      rows.push(JSON.stringify({ image: file, text: `a ${shape}`, label: shape }));
    }
  }
  const manifest = join(dir, `${name}.jsonl`);
  writeFileSync(manifest, `${rows.join("\n")}\n`);
  return manifest;
}

/** A progress stream that swallows output. */
export const quiet = { write: () => true };
