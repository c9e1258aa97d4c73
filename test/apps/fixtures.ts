/**
 * A tiny saved CLIP (16-pixel images, one layer per tower, a BPE tokenizer trained on a few captions),
 * coloured PNGs and a manifest in a temp folder, plus a runner for the application commands.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mock } from "node:test";
import sharp from "sharp";
import { type Command, parseCommand, runParsed } from "../../src/cli/command.js";
import { CLIP, type ClipConfig } from "../../src/models/clip.js";
import { saveClip } from "../../src/models/saved.js";
import { trainBpe } from "../../src/text/train.js";

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "juxta-"));
}

export const CAPTIONS = [
  "a red square",
  "a green square",
  "a blue square",
  "a yellow square",
  "a red fruit",
  "a small blue thing",
];

export function tinyConfig(vocabSize: number): ClipConfig {
  const block = { layers: 1, heads: 2, mlpRatio: 2, act: "gelu", lnEps: 1e-5 } as const;
  return {
    embedDim: 16,
    vision: { type: "vit", imageSize: 16, patchSize: 8, width: 32, ...block },
    text: { vocabSize, contextLength: 16, width: 32, ...block },
  };
}

/** Save a tiny random CLIP with its own tokenizer into a new folder; returns the folder. */
export function tinyModel(seed = 0): string {
  const dir = tempDir();
  const tokenizer = trainBpe(CAPTIONS, { vocabSize: 530, minFrequency: 1 });
  const model = new CLIP(tinyConfig(tokenizer.vocabSize)).initialize(seed);
  saveClip(dir, model, tokenizer, { step: 0 });
  return dir;
}

export const COLORS: Record<string, [number, number, number]> = {
  red: [220, 20, 30],
  green: [20, 200, 40],
  blue: [30, 40, 220],
  yellow: [230, 220, 20],
};

/** A PNG of one colour with a darker stripe (so images differ in more than their mean). */
export async function png(rgb: [number, number, number], width = 20, height = 16): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++)
        data[(y * width + x) * 3 + c] = x < 4 ? (rgb[c] as number) >> 1 : (rgb[c] as number);
  return sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** `<dir>/img/<colour>.png` for each colour; returns the folder. */
export async function colourImages(dir: string): Promise<string> {
  const img = join(dir, "img");
  mkdirSync(img, { recursive: true });
  for (const [name, rgb] of Object.entries(COLORS)) writeFileSync(join(img, `${name}.png`), await png(rgb));
  return img;
}

export function writeJsonl(file: string, rows: object[]): string {
  writeFileSync(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return file;
}

/**
 * Run a command as the CLI would (parsing argv, library option errors shown as its flags); returns what
 * it printed with console.log.
 */
export async function runCommand(cmd: unknown, argv: string[]): Promise<string[]> {
  const c = cmd as Command;
  const log = mock.method(console, "log", () => {});
  const err = mock.method(console, "error", () => {});
  try {
    const { values, positionals } = parseCommand(c, argv);
    await runParsed(c, values, positionals);
    return log.mock.calls.map((call) => String(call.arguments[0]));
  } finally {
    log.mock.restore();
    err.mock.restore();
  }
}
