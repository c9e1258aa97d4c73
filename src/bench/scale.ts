/**
 * The scale suite: peak RSS of `juxta embed` and of a `juxta train` epoch (streamed, and cached where it
 * fits) over generated WebDataset shards of N small images, each run a child process of the real CLI whose
 * high-water mark (getrusage's maxRSS, worker threads included) it reports when it exits; then the
 * training throughput of the streamed loader against the pixel cache on the emoji set, in the same run.
 *
 * The shards (N captioned 24 × 24 PNGs in shards of 1,000, 64 distinct tiles), a tiny CLIP (a 16 px ViT,
 * so that reading and decoding dominate, as they do at scale) and the emoji set are made once under `dir`
 * and reused by later runs.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { buildEmojiDataset } from "../data/emoji.js";
import { CLIP } from "../models/clip.js";
import { saveClip } from "../models/saved.js";
import { trainBpe } from "../text/index.js";
import { UserError } from "../util/errors.js";

export interface ScaleBenchOptions {
  /** Images per generated data set (10_000, 100_000, 1_000_000). */
  sizes: number[];
  /** Where shards, the model and the emoji set are made and kept (default: a folder under /tmp). */
  dir?: string;
  /** Pairs per training step (default 128). */
  batch?: number;
  /** The cached epoch is measured up to this size (above it the cache is what streaming avoids). */
  cacheUpTo?: number;
  /** Skip the emoji throughput comparison. */
  emoji?: boolean;
  log?: (line: string) => void;
}

const SHARD = 1000;

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
/** Prints the child's peak RSS (kB) on its way out, however it exits. */
const RSS_HOOK = `data:text/javascript,${encodeURIComponent(
  `import { writeSync } from "node:fs"; process.on("exit", () => writeSync(2, "\\njuxta-peak-rss-kb " + process.resourceUsage().maxRSS + "\\n"));`,
)}`;

/** "10k" → 10000, "1m" → 1000000, "2500" → 2500. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(text.trim());
  if (!m) throw new UserError(`size '${text}' is not a count like 10k, 100k, 1m or 2500`);
  const n = Math.round(Number(m[1]) * ({ "": 1, k: 1e3, m: 1e6 }[(m[2] as string).toLowerCase()] as number));
  if (n < 1) throw new UserError(`size '${text}' must be at least 1`);
  return n;
}

// A ustar archive, written by hand: the shards are the benchmark's input, so it makes them itself.
const enc = new TextEncoder();
function tarHeader(name: string, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, at: number) => h.set(enc.encode(s), at);
  put(name, 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(`${size.toString(8).padStart(11, "0")}\0`, 124);
  put("00000000000\0", 136);
  put("0", 156);
  put("ustar\0", 257);
  put("00", 263);
  put("        ", 148);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

function tarOf(members: [string, Uint8Array][]): Uint8Array {
  let total = 1024;
  for (const [, data] of members) total += 512 + Math.ceil(data.length / 512) * 512;
  const out = new Uint8Array(total);
  let at = 0;
  for (const [name, data] of members) {
    out.set(tarHeader(name, data.length), at);
    out.set(data, at + 512);
    at += 512 + Math.ceil(data.length / 512) * 512;
  }
  return out;
}

const COLOURS: [string, [number, number, number]][] = [
  ["red", [220, 30, 30]],
  ["green", [30, 200, 60]],
  ["blue", [40, 60, 220]],
  ["yellow", [230, 210, 40]],
  ["purple", [140, 40, 160]],
  ["orange", [250, 140, 20]],
  ["black", [10, 10, 10]],
  ["white", [245, 245, 245]],
];

/** N captioned 24 × 24 PNGs (two colours side by side) in shards of 1,000: DIR/shard-0000.tar … */
export async function writeScaleShards(n: number, dir: string): Promise<string[]> {
  const done = join(dir, "complete.json");
  const names = Array.from({ length: Math.ceil(n / SHARD) }, (_, s) =>
    join(dir, `shard-${String(s).padStart(4, "0")}.tar`),
  );
  if (existsSync(done)) return names;
  mkdirSync(dir, { recursive: true });
  const tiles: { png: Uint8Array; text: string }[] = [];
  for (const [a, ca] of COLOURS)
    for (const [b, cb] of COLOURS) {
      const px = Buffer.alloc(24 * 24 * 3);
      for (let y = 0; y < 24; y++) for (let x = 0; x < 24; x++) px.set(x < 12 ? ca : cb, (y * 24 + x) * 3);
      const png = await sharp(px, { raw: { width: 24, height: 24, channels: 3 } })
        .png()
        .toBuffer();
      tiles.push({ png, text: `${a} and ${b}` });
    }
  for (const [s, file] of names.entries()) {
    const members: [string, Uint8Array][] = [];
    for (let i = s * SHARD; i < Math.min(n, (s + 1) * SHARD); i++) {
      const t = tiles[i % tiles.length] as (typeof tiles)[number];
      const key = String(i).padStart(7, "0");
      members.push([`${key}.png`, t.png], [`${key}.txt`, enc.encode(`${t.text} ${i}`)]);
    }
    writeFileSync(file, tarOf(members));
  }
  writeFileSync(done, JSON.stringify({ images: n }));
  return names;
}

/** A tiny CLIP (16 px ViT, one block a tower) with a BPE tokenizer on the shards' captions. */
function tinyModel(dir: string): string {
  if (existsSync(join(dir, "juxta.json"))) return dir;
  mkdirSync(dir, { recursive: true });
  const captions = COLOURS.flatMap(([a]) => COLOURS.map(([b]) => `${a} and ${b} 12345`));
  const tokenizer = trainBpe(captions, { vocabSize: 600, minFrequency: 1 });
  const block = { layers: 1, heads: 2, mlpRatio: 2, act: "gelu", lnEps: 1e-5 } as const;
  const model = new CLIP({
    embedDim: 16,
    vision: { type: "vit", imageSize: 16, patchSize: 8, width: 32, ...block },
    text: { vocabSize: tokenizer.vocabSize, contextLength: 16, width: 32, ...block },
  }).initialize(0);
  saveClip(dir, model, tokenizer, { step: 0 });
  return dir;
}

interface ChildRun {
  peakRssMb: number;
  seconds: number;
  stderr: string;
}

/** Run the CLI in a child process; its peak RSS and wall time. */
function runCli(args: string[]): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["--import", RSS_HOOK, CLI, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-20_000);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = (performance.now() - t0) / 1000;
      const rss = /juxta-peak-rss-kb (\d+)/.exec(stderr);
      if (code !== 0 || !rss)
        reject(new Error(`juxta ${args[0]} exited with ${code}:\n${stderr.slice(-2000)}`));
      else resolve({ peakRssMb: round(Number(rss[1]) / 1024, 0), seconds, stderr });
    });
  });
}

/** A training run's pairs per second of training (set-up excluded), from its state.json. */
function trainingRate(run: string, batch: number): { steps: number; pairsPerSec: number } {
  const state = JSON.parse(readFileSync(join(run, "state.json"), "utf8")) as {
    step: number;
    elapsedSeconds: number;
  };
  return { steps: state.step, pairsPerSec: round((state.step * batch) / state.elapsedSeconds, 0) };
}

async function trainEpoch(
  model: string,
  data: string,
  mode: "stream" | "cache",
  batch: number,
  scratch: string,
): Promise<Record<string, number>> {
  const out = mkdtempSync(join(scratch, `train-${mode}-`));
  const run = await runCli([
    "train",
    "--init",
    model,
    "--data",
    data,
    "--out",
    out,
    "--epochs",
    "1",
    "--batch",
    String(batch),
    "--data-mode",
    mode,
  ]);
  const rate = trainingRate(out, batch);
  rmSync(out, { recursive: true, force: true });
  return {
    peak_rss_mb: run.peakRssMb,
    steps: rate.steps,
    pairs_per_s: rate.pairsPerSec,
    wall_s: round(run.seconds, 1),
  };
}

export async function benchScale(opts: ScaleBenchOptions): Promise<Record<string, unknown>> {
  const dir = opts.dir ?? "/tmp/juxta-scale-bench";
  const batch = opts.batch ?? 128;
  const log = opts.log ?? (() => {});
  const cacheUpTo = opts.cacheUpTo ?? 100_000;
  mkdirSync(dir, { recursive: true });
  const scratch = mkdtempSync(join(dir, "runs-"));
  const model = tinyModel(join(dir, "model"));
  const result: Record<string, unknown> = {
    suite: "scale",
    batch,
    load_at_start: round(loadavg()[0] as number, 1),
  };
  try {
    for (const n of opts.sizes) {
      log(`${n} images: writing shards (once) under ${dir}`);
      const shards = await writeScaleShards(n, join(dir, `shards-${n}`));
      const last = String(shards.length - 1).padStart(4, "0");
      const pattern = join(dirname(shards[0] as string), `shard-{0000..${last}}.tar`);
      log(`${n} images: juxta embed`);
      const emb = await runCli([
        "embed",
        "--model",
        model,
        "--images",
        pattern,
        "--out",
        join(scratch, "e.npy"),
      ]);
      result[`embed_${n}_peak_rss_mb`] = emb.peakRssMb;
      result[`embed_${n}_images_per_s`] = round(n / emb.seconds, 0);
      log(`${n} images: a streamed training epoch`);
      for (const [k, v] of Object.entries(
        await trainEpoch(model, dirname(pattern), "stream", batch, scratch),
      ))
        result[`train_stream_${n}_${k}`] = v;
      if (n <= cacheUpTo) {
        log(`${n} images: a cached training epoch`);
        for (const [k, v] of Object.entries(
          await trainEpoch(model, dirname(pattern), "cache", batch, scratch),
        ))
          result[`train_cache_${n}_${k}`] = v;
      }
    }
    if (opts.emoji !== false) {
      const emoji = join(dir, "emoji");
      if (!existsSync(join(emoji, "train.jsonl"))) {
        log("building the emoji set (once)");
        await buildEmojiDataset(emoji);
      }
      const data = join(emoji, "train.jsonl");
      // Alternated, twice each, so that both loaders see the machine in the same state; the better of each
      // kept. Pairs/s counts training only; wall time adds the set-up (the cache's decoding, the count).
      const runs: Record<"cache" | "stream", Record<string, number>[]> = { cache: [], stream: [] };
      for (const mode of ["cache", "stream", "cache", "stream"] as const) {
        log(`emoji set: a training epoch, --data-mode ${mode}`);
        runs[mode].push(await trainEpoch(model, data, mode, batch, scratch));
      }
      const best = (mode: "cache" | "stream", key: string, pick: (...xs: number[]) => number) =>
        pick(...runs[mode].map((r) => r[key] as number));
      for (const mode of ["cache", "stream"] as const) {
        result[`emoji_${mode}_pairs_per_s`] = best(mode, "pairs_per_s", Math.max);
        result[`emoji_${mode}_wall_s`] = best(mode, "wall_s", Math.min);
        result[`emoji_${mode}_peak_rss_mb`] = best(mode, "peak_rss_mb", Math.min);
      }
      result.emoji_stream_vs_cache_pairs_per_s = round(
        best("stream", "pairs_per_s", Math.max) / best("cache", "pairs_per_s", Math.max),
        2,
      );
      result.emoji_stream_vs_cache_wall = round(
        best("stream", "wall_s", Math.min) / best("cache", "wall_s", Math.min),
        2,
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  result.load_at_end = round(loadavg()[0] as number, 1);
  return result;
}
