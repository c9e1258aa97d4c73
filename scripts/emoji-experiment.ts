/**
 * The emoji recipe experiment (issue 16), one command: for each lever (captions, augmentation, optimizer
 * settings) and seed, build the emoji set (`juxta data emoji --captions one|several`), train a CLIP for a
 * fixed number of steps, and evaluate on test.jsonl (188 emoji never trained on, both artists):
 * text → image and image → text R@10 and zero-shot category top-1 (9 groups, `juxta eval`'s templates).
 * The cross-artist split trains on the Google drawings only and evaluates on the Twitter drawings of the
 * test emoji (beside the Google ones, the same-artist figure on an equal-sized pool).
 *
 *   node --import tsx scripts/emoji-experiment.ts --out runs/emoji-recipe
 *     [--steps 234] [--seeds 1] [--first-seed 0] [--only baseline,several] [--splits all,cross] [--threads 2] [--table]
 *
 * Runs are defined by a step count, not minutes, so that the machine's load changes how long they take and
 * not what they learn: 234 steps is 9 epochs of 26 batches of 128 pairs, what `juxta train --minutes 10`
 * fits on the quiet 2-core machine (2.59 s a step, `juxta bench --suite train`). A lever whose steps cost
 * less (a smaller image tower, patch dropout) trains `steps / stepCost` of them, the same minutes. docs/experiments/
 * emoji-recipe.md holds the results and their reading. Each result is appended to OUT/results.jsonl as it
 * is measured and skipped when the command runs again; an interrupted training run resumes from its
 * checkpoint. Seeds are the outer loop, so after the first pass every lever has one seed. `--table` prints
 * mean ± standard error over seeds and each lever's difference from the baseline (** beyond 2 SE).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { buildEmojiDataset, type EmojiCaptions, type EmojiRow } from "../src/data/emoji.js";
import { evaluateClip, evalValues } from "../src/eval/clip.js";
import type { ClipConfig } from "../src/models/clip.js";
import { type PresetName, presetConfig } from "../src/models/presets.js";
import { loadClip } from "../src/models/saved.js";
import { readState } from "../src/train/checkpoint.js";
import { trainClip } from "../src/train/loop.js";
import type { ClipTrainOptions } from "../src/train/options.js";

/** 9 epochs × 26 steps (3,436 pairs, batch 128): 10 minutes of the default recipe on the quiet machine. */
export const TEN_MINUTE_STEPS = 234;

/** One recipe change (or none), measured against the baseline. */
export interface Lever {
  name: string;
  label: string;
  captions: EmojiCaptions;
  train: Pick<
    ClipTrainOptions,
    "method" | "augment" | "lr" | "weightDecay" | "warmup" | "batch" | "patchDropout"
  >;
  /** The model's shapes, when not the tiny preset. */
  preset?: PresetName;
  /**
   * A step's time against the default recipe's, measured side by side on a quiet machine, when the lever
   * changes it: the lever trains for `steps / stepCost` steps, the same 10 minutes.
   */
  stepCost?: number;
  /**
   * The BPE vocabulary learned on the training captions, when not the preset's 8192: on 3,436 captions
   * 8192 tokens are nearly one per word, so a caption of an emoji never trained on is mostly rare tokens.
   */
  vocabSize?: number;
}

export const LEVERS: readonly Lever[] = [
  { name: "baseline", label: "captions one (the defaults before 2026-12-04)", captions: "one", train: {} },
  { name: "several", label: "captions several (today's defaults)", captions: "several", train: {} },
  {
    name: "several-strong",
    label: "captions several + augment clip-strong",
    captions: "several",
    train: { augment: "clip-strong" },
  },
  {
    name: "several-wd0.05",
    label: "captions several + weight decay 0.05",
    captions: "several",
    train: { weightDecay: 0.05 },
  },
  { name: "several-lr1e-3", label: "captions several + lr 1e-3", captions: "several", train: { lr: 1e-3 } },
  {
    name: "several-siglip",
    label: "captions several + the SigLIP loss",
    captions: "several",
    train: { method: "siglip" },
  },
  {
    name: "several-resnet",
    label: "captions several + the tiny-resnet image tower",
    captions: "several",
    train: {},
    preset: "tiny-resnet",
    // juxta bench --suite train --no-peer, Intel Xeon, quiet: 1301 ms a step against tiny's 1937 ms.
    stepCost: 0.67,
  },
  {
    name: "resnet-lr1e-3",
    label: "captions several + tiny-resnet + lr 1e-3",
    captions: "several",
    train: { lr: 1e-3 },
    preset: "tiny-resnet",
    stepCost: 0.67,
  },
  {
    name: "resnet-strong",
    label: "captions several + tiny-resnet + augment clip-strong",
    captions: "several",
    train: { augment: "clip-strong" },
    preset: "tiny-resnet",
    stepCost: 0.67,
  },
  {
    name: "several-pd50",
    label: "captions several + patch dropout 50 %",
    captions: "several",
    train: { patchDropout: 0.5 },
    // Steps 5-20 of juxta train on the emoji set, Intel Xeon, quiet: 1.07 s a step against 1.72 s.
    stepCost: 0.62,
  },
  {
    name: "several-vocab2k",
    label: "captions several + a 2048-token BPE",
    captions: "several",
    train: {},
    vocabSize: 2048,
  },
  {
    name: "several-vocab1k",
    label: "captions several + a 1024-token BPE",
    captions: "several",
    train: {},
    vocabSize: 1024,
  },
];

/** The model a lever trains: its preset's (a smoke run's shapes instead, when given) with its vocabulary. */
function leverConfig(lever: Lever, base: ClipConfig | undefined): ClipConfig | undefined {
  if (base === undefined && lever.preset === undefined && lever.vocabSize === undefined) return undefined;
  const config = structuredClone(base ?? presetConfig(lever.preset ?? "tiny"));
  if (lever.vocabSize !== undefined) config.text.vocabSize = lever.vocabSize;
  return config;
}

/** all: train.jsonl → test.jsonl. cross: the Google drawings of train.jsonl → the test emoji's Twitter ones. */
export type Split = "all" | "cross";
export const SPLITS: readonly Split[] = ["all", "cross"];

export interface ResultRow {
  config: string;
  split: Split;
  seed: number;
  steps: number;
  batch: number;
  secondsPerStep: number;
  trainSeconds: number;
  firstLoss?: number;
  lastLoss?: number;
  t2i10: number;
  i2t10: number;
  t2i1: number;
  i2t1: number;
  zeroShot: number;
  /** cross split: the same figures on the test emoji's Google drawings (the artist trained on). */
  sameT2i10?: number;
  sameZeroShot?: number;
  /** 1-minute load average when the result was recorded. */
  load: number;
}

export interface EmojiExperimentOptions {
  out: string;
  steps?: number;
  /** Seeds firstSeed … firstSeed + seeds − 1. */
  seeds?: number;
  /** The first seed (default 0): another machine or session can add seeds to the same table. */
  firstSeed?: number;
  /** Lever names to run (default all). */
  only?: readonly string[];
  splits?: readonly Split[];
  /** Smoke runs: keep about this many training rows (and a quarter as many test rows), both artists of each emoji. */
  limit?: number;
  /** Pairs per step for every lever (smoke runs; default each lever's, the recipe's 128). */
  batch?: number;
  /** Model shapes instead of the recipe's preset (smoke runs). */
  config?: ClipConfig;
  /** ONNX Runtime intra-op threads of the training step. */
  threads?: number;
  /** Progress and messages. */
  log?: (line: string) => void;
}

const read = (file: string): EmojiRow[] =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as EmojiRow);
const write = (file: string, rows: readonly EmojiRow[]) =>
  writeFileSync(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));

/** About `n` rows, whole emoji (both artists) at an even stride, so a slice still spans the categories. */
function slice(rows: EmojiRow[], n: number | undefined): EmojiRow[] {
  if (n === undefined || n >= rows.length) return rows;
  const emoji = [...new Set(rows.map((r) => r.emoji))];
  const keep = new Set(emoji.filter((_, i) => i % Math.ceil((2 * emoji.length) / n) === 0));
  return rows.filter((r) => keep.has(r.emoji));
}

interface SplitFiles {
  train: string;
  test: string;
  /** cross: the test emoji's drawings by the artist trained on. */
  same?: string;
}

/** The manifests of each split, built once per caption kind (and slice). */
async function dataFiles(
  out: string,
  captions: EmojiCaptions,
  limit: number | undefined,
): Promise<Record<Split, SplitFiles>> {
  const dir = join(out, "data", limit === undefined ? captions : `${captions}-${limit}`);
  const f = (name: string) => join(dir, `${name}.jsonl`);
  if (!existsSync(f("test-google"))) {
    await buildEmojiDataset(dir, { captions, absolutePaths: true });
    const train = slice(read(f("train")), limit);
    const test = slice(read(f("test")), limit === undefined ? undefined : Math.ceil(limit / 4));
    write(f("train"), train);
    write(f("test"), test);
    write(
      f("train-google"),
      train.filter((r) => r.style === "google"),
    );
    write(
      f("test-twitter"),
      test.filter((r) => r.style === "twitter"),
    );
    // Written last: its presence says the folder is complete.
    write(
      f("test-google"),
      test.filter((r) => r.style === "google"),
    );
  }
  return {
    all: { train: f("train"), test: f("test") },
    cross: { train: f("train-google"), test: f("test-twitter"), same: f("test-google") },
  };
}

async function scores(model: string, file: string) {
  const v = evalValues(await evaluateClip(loadClip(model), file, { linearProbe: false }));
  const get = (k: string) => v[k] ?? Number.NaN;
  return {
    t2i10: get("text_to_image/R@10"),
    i2t10: get("image_to_text/R@10"),
    t2i1: get("text_to_image/R@1"),
    i2t1: get("image_to_text/R@1"),
    zeroShot: get("zero_shot/top1"),
  };
}

export function readResults(out: string): ResultRow[] {
  const file = join(out, "results.jsonl");
  return existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as ResultRow)
    : [];
}

/** Run what is not yet in OUT/results.jsonl; returns every result there. */
export async function runEmojiExperiment(o: EmojiExperimentOptions): Promise<ResultRow[]> {
  const out = resolve(o.out);
  const recipeSteps = o.steps ?? TEN_MINUTE_STEPS;
  const log = o.log ?? ((line: string) => console.error(line));
  mkdirSync(out, { recursive: true });
  const done = readResults(out);
  const levers = o.only ? LEVERS.filter((l) => o.only?.includes(l.name)) : LEVERS;
  const unknown = o.only?.filter((n) => !LEVERS.some((l) => l.name === n)) ?? [];
  if (unknown.length > 0)
    throw new Error(
      `unknown lever ${unknown.join(", ")}; the levers: ${LEVERS.map((l) => l.name).join(", ")}`,
    );
  const splits = o.splits ?? SPLITS;
  const first = o.firstSeed ?? 0;
  for (let seed = first; seed < first + (o.seeds ?? 1); seed++)
    for (const lever of levers)
      for (const split of splits) {
        if (done.some((r) => r.config === lever.name && r.split === split && r.seed === seed)) continue;
        const steps = Math.round(recipeSteps / (lever.stepCost ?? 1));
        const files = (await dataFiles(out, lever.captions, o.limit))[split];
        const dir = join(out, "runs", lever.name, `${split}-seed${seed}`);
        const state = readState(dir);
        // A folder without a checkpoint is what a run killed during its set-up leaves.
        if (!state) rmSync(dir, { recursive: true, force: true });
        else if (state.totalSteps !== steps)
          throw new Error(
            `${dir} holds a run of ${state.totalSteps} steps, not ${steps}: remove it or change --out`,
          );
        log(`${lever.name} ${split} seed ${seed}: ${state ? `resuming at step ${state.step}` : "training"}`);
        const trainLog: string[] = [];
        const r = await trainClip({
          ...(state
            ? { resume: true }
            : {
                data: files.train,
                steps,
                seed,
                ...lever.train,
                ...(o.batch ? { batch: o.batch } : {}),
                config: leverConfig(lever, o.config),
              }),
          out: dir,
          session: o.threads === undefined ? undefined : { threads: o.threads },
          stream: { write: (s: string) => trainLog.push(s) },
        });
        appendFileSync(join(dir, "train.log"), trainLog.join(""));
        if (r.interrupted)
          throw new Error(`interrupted (${r.interrupted}); run the command again to continue`);
        const metrics = readFileSync(join(dir, "metrics.jsonl"), "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => JSON.parse(l) as { step: number; loss: number; seconds: number });
        const final = readState(dir);
        const row: ResultRow = {
          config: lever.name,
          split,
          seed,
          steps,
          batch: (final?.options.batch as number | undefined) ?? Number.NaN,
          // Over the whole run, resumes included (state.json keeps the elapsed training time).
          secondsPerStep: (final?.elapsedSeconds ?? Number.NaN) / steps,
          trainSeconds: final?.elapsedSeconds ?? Number.NaN,
          firstLoss: metrics[0]?.loss,
          lastLoss: metrics.at(-1)?.loss,
          ...(await scores(dir, files.test)),
          load: loadavg()[0] as number,
        };
        if (files.same) {
          const same = await scores(dir, files.same);
          row.sameT2i10 = same.t2i10;
          row.sameZeroShot = same.zeroShot;
        }
        done.push(row);
        appendFileSync(join(out, "results.jsonl"), `${JSON.stringify(row)}\n`);
        log(JSON.stringify(row));
      }
  return done;
}

type Key = "t2i10" | "i2t10" | "zeroShot" | "sameT2i10" | "lastLoss";

function stats(rows: readonly ResultRow[], key: Key) {
  const xs = rows.map((r) => r[key]).filter((v): v is number => typeof v === "number");
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(n, 1);
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  return { n, mean, se: sd / Math.sqrt(n) };
}

/**
 * The ablation table in Markdown: per lever and split, mean ± standard error over seeds, and the difference
 * from the baseline, marked ** when it exceeds twice its standard error (both with two or more seeds).
 */
export function emojiTable(rows: readonly ResultRow[]): string {
  const pick = (config: string, split: Split) => rows.filter((r) => r.config === config && r.split === split);
  const cell = (rs: readonly ResultRow[], key: Key) => {
    const s = stats(rs, key);
    if (s.n === 0) return "–";
    return `${s.mean.toFixed(3)}${Number.isNaN(s.se) ? "" : ` ± ${s.se.toFixed(3)}`}`;
  };
  const delta = (rs: readonly ResultRow[], base: readonly ResultRow[], key: Key) => {
    const a = stats(rs, key);
    const b = stats(base, key);
    if (a.n === 0 || b.n === 0) return "–";
    const d = a.mean - b.mean;
    const se = Math.sqrt(a.se ** 2 + b.se ** 2);
    return `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(3)}${Math.abs(d) > 2 * se ? " **" : ""}`;
  };
  const lines = [
    "| lever | seeds | loss (last step) | t→i R@10 | Δ | i→t R@10 | Δ | zero-shot top-1 | Δ | cross-artist seeds | cross-artist t→i R@10 | Δ | same artist t→i R@10 | cross-artist zero-shot | Δ |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const names = [
    ...LEVERS.map((l) => l.name),
    ...new Set(rows.map((r) => r.config).filter((c) => !LEVERS.some((l) => l.name === c))),
  ];
  for (const name of names) {
    const all = pick(name, "all");
    const cross = pick(name, "cross");
    if (all.length === 0 && cross.length === 0) continue;
    const ball = pick("baseline", "all");
    const bcross = pick("baseline", "cross");
    const label = LEVERS.find((l) => l.name === name)?.label ?? name;
    const vs = name !== "baseline";
    lines.push(
      `| ${label} | ${all.length} | ${cell(all, "lastLoss")} | ${cell(all, "t2i10")} | ${vs ? delta(all, ball, "t2i10") : ""} | ${cell(all, "i2t10")} | ${vs ? delta(all, ball, "i2t10") : ""} | ${cell(all, "zeroShot")} | ${vs ? delta(all, ball, "zeroShot") : ""} | ${cross.length} | ${cell(cross, "t2i10")} | ${vs ? delta(cross, bcross, "t2i10") : ""} | ${cell(cross, "sameT2i10")} | ${cell(cross, "zeroShot")} | ${vs ? delta(cross, bcross, "zeroShot") : ""} |`,
    );
  }
  return lines.join("\n");
}

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      steps: { type: "string", default: String(TEN_MINUTE_STEPS) },
      seeds: { type: "string", default: "1" },
      "first-seed": { type: "string", default: "0" },
      only: { type: "string" },
      splits: { type: "string", default: SPLITS.join(",") },
      limit: { type: "string" },
      batch: { type: "string" },
      threads: { type: "string" },
      table: { type: "boolean", default: false },
    },
  });
  if (!values.out) {
    console.error(
      `usage: emoji-experiment.ts --out DIR [--steps ${TEN_MINUTE_STEPS}] [--seeds 1] [--first-seed 0] [--only ${LEVERS.map((l) => l.name).join(",")}] [--splits all,cross] [--limit N] [--batch B] [--threads T] [--table]`,
    );
    process.exit(2);
  }
  const splits = values.splits.split(",") as Split[];
  const bad = splits.filter((s) => !SPLITS.includes(s));
  if (bad.length > 0) throw new Error(`--splits: expected ${SPLITS.join(", ")}, got ${bad.join(", ")}`);
  const num = (flag: string, v: string | undefined, least = 1) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= least))
      throw new Error(`--${flag}: expected a whole number from ${least}, got '${v}'`);
    return n;
  };
  const rows = values.table
    ? readResults(values.out)
    : await runEmojiExperiment({
        out: values.out,
        steps: num("steps", values.steps),
        seeds: num("seeds", values.seeds),
        firstSeed: num("first-seed", values["first-seed"], 0),
        only: values.only?.split(","),
        splits,
        limit: num("limit", values.limit),
        batch: num("batch", values.batch),
        threads: num("threads", values.threads),
      });
  const table = emojiTable(rows);
  writeFileSync(join(values.out, "table.md"), `${table}\n`);
  console.log(
    `${table}\n\n** : the difference from the baseline exceeds twice its standard error (seeds as samples).`,
  );
  console.log(
    `${cpus().length} × ${cpus()[0]?.model}, load average now ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
