/** A tiny captioned image set and a runner for train-child.js, shared by the checkpoint tests. */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { png, tempDir } from "../apps/fixtures.js";
import { projectRoot } from "../helpers.js";

const block = { layers: 1, heads: 2, mlpRatio: 2, act: "gelu", lnEps: 1e-5 } as const;
/** The tiny shapes train-child.js trains: a 16 px one-layer CLIP, or a two-stage ResNet encoder. */
export const CHILD_CONFIG = {
  embedDim: 16,
  vision: { type: "vit", imageSize: 16, patchSize: 8, width: 32, ...block },
  text: { vocabSize: 600, contextLength: 8, width: 32, ...block },
} as const;
export const CHILD_ENCODER = {
  backbone: { type: "resnet", imageSize: 16, stemStride: 1, widths: [8, 16], blocks: [1, 1] },
  head: { hidden: 16, out: 16 },
};

export const CHILD = join(projectRoot, "dist", "test", "reliability", "train-child.js");

const COLOURS: Record<string, [number, number, number]> = {
  red: [220, 20, 30],
  green: [20, 200, 40],
  blue: [30, 40, 220],
  yellow: [230, 220, 20],
};

/** 8 captioned PNGs (4 colours × 2 sizes) in data.jsonl; returns the manifest's path. */
export async function tinyPairs(dir = tempDir()): Promise<string> {
  const rows: string[] = [];
  for (const [name, rgb] of Object.entries(COLOURS))
    for (const [size, w] of [
      ["small", 16],
      ["big", 24],
    ] as const) {
      const file = `${name}-${size}.png`;
      writeFileSync(join(dir, file), await png(rgb, w, w));
      rows.push(JSON.stringify({ image: file, text: `a ${size} ${name} square`, label: name }));
    }
  const manifest = join(dir, "data.jsonl");
  writeFileSync(manifest, `${rows.join("\n")}\n`);
  return manifest;
}

export interface ChildRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run train-child.js with `opts`, optionally under a wrapper command (strace …) and in another folder. */
export function trainChild(
  opts: Record<string, unknown>,
  wrap: string[] = [],
  spawnOpts: { cwd?: string; timeout?: number } = {},
): ChildRun {
  const args = [process.execPath, CHILD, JSON.stringify(opts)];
  const [cmd, ...rest] = [...wrap, ...args] as [string, ...string[]];
  const r = spawnSync(cmd, rest, {
    encoding: "utf8",
    timeout: spawnOpts.timeout ?? 120_000,
    cwd: spawnOpts.cwd,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** metrics.jsonl's lines without their wall-clock field (`seconds`), which no two runs share. */
export function metricLines(run: string): string[] {
  return readFileSync(join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { seconds: _, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify(rest);
    });
}

/** trainChild without blocking, so that two runs can share the machine's cores. */
export function trainChildAsync(opts: Record<string, unknown>, wrap: string[] = []): Promise<ChildRun> {
  const args = [process.execPath, CHILD, JSON.stringify(opts)];
  const [cmd, ...rest] = [...wrap, ...args] as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, rest, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}
