/**
 * A tiny CLIP trained in the test on coloured shapes with captions ("a red square", "a blue disc"), so that
 * moderation runs on a real model whose prompts and images have learned to agree a little.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { trainClip } from "../../src/train/loop.js";
import { COLORS, tempDir, tinyConfig, writeJsonl } from "../apps/fixtures.js";

export const SHAPE_NAMES = ["square", "disc"] as const;
const quiet = { write: () => true };

/** A 16-px PNG: a shape of one colour on grey, at an offset (so images of one kind differ). */
export async function shapePng(
  rgb: [number, number, number],
  shape: string,
  offset: number,
): Promise<Buffer> {
  const size = 16;
  const data = Buffer.alloc(size * size * 3, 128);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const dx = x - 8 - (offset % 3) + 1;
      const dy = y - 8 - (Math.floor(offset / 3) % 3) + 1;
      const inside = shape === "square" ? Math.abs(dx) <= 5 && Math.abs(dy) <= 5 : dx * dx + dy * dy <= 30;
      if (inside) for (let c = 0; c < 3; c++) data[(y * size + x) * 3 + c] = rgb[c] as number;
    }
  return sharp(data, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}

export interface ShapeItem {
  image: string;
  text: string;
  colour: string;
  shape: string;
}

/** `<dir>/shapes/<colour>-<shape>-<k>.png`, `variants` of each, with a manifest; returns the items. */
export async function writeShapes(
  dir: string,
  variants = 3,
): Promise<{ items: ShapeItem[]; manifest: string }> {
  const img = join(dir, "shapes");
  mkdirSync(img, { recursive: true });
  const items: ShapeItem[] = [];
  for (const [colour, rgb] of Object.entries(COLORS))
    for (const shape of SHAPE_NAMES)
      for (let k = 0; k < variants; k++) {
        const image = join(img, `${colour}-${shape}-${k}.png`);
        writeFileSync(image, await shapePng(rgb, shape, k * 4));
        items.push({ image, text: `a ${colour} ${shape}`, colour, shape });
      }
  const manifest = writeJsonl(
    join(dir, "shapes.jsonl"),
    items.map(({ image, text }) => ({ image, text })),
  );
  return { items, manifest };
}

/** Train a tiny CLIP on the shapes for `epochs`; returns the run folder. */
export async function trainShapesModel(dir: string, manifest: string, epochs = 12): Promise<string> {
  const out = join(dir, "run");
  await trainClip({
    data: manifest,
    out,
    config: tinyConfig(600),
    batch: 8,
    epochs,
    lr: 3e-3,
    warmup: 2,
    stream: quiet,
  });
  return out;
}

export { tempDir };
