/**
 * SimCLR ablations on the emoji set (labels: the 9 emoji categories), after the seeds' exercises: crop-only
 * vs full augmentations, cosine vs dot-product similarity, temperature 0.5 vs 0.1 — one factor at a time
 * from the baseline (full augmentations, cosine, τ = 0.5) — plus the untrained encoder for reference. Each
 * configuration trains the same small encoder for the same number of steps (--epochs) or the same
 * wall-clock budget (--minutes) and is scored by kNN and a linear probe on its backbone features (train
 * split → test split). Then the per-step cost of SimCLR and MoCo against the encoder's plain forward +
 * backward on the same 2N images.
 *
 *   node --import tsx src/cli/main.ts data emoji --out /tmp/emoji
 *   node --import tsx scripts/ssl-experiment.ts --data /tmp/emoji --out /tmp/ssl-runs [--minutes 1.5]
 *     [--epochs 2 (instead of --minutes)] [--preset resnet-tiny] [--batch 64] [--seed 0]
 *
 * Prints a Markdown table and writes results.json in --out.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { measureMethodOverhead } from "../src/bench/overhead.js";
import { evaluateImageEncoder } from "../src/eval/image-encoder.js";
import { ImageEncoder, type ImageEncoderPreset, imageEncoderConfig } from "../src/models/image-encoder.js";
import { saveImageEncoder } from "../src/models/saved.js";
import { trainImageMethod } from "../src/train/loop.js";
import type { ImageMethodOptions } from "../src/train/options.js";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    out: { type: "string" },
    minutes: { type: "string", default: "1.5" },
    epochs: { type: "string" },
    preset: { type: "string", default: "resnet-tiny" },
    batch: { type: "string", default: "64" },
    seed: { type: "string", default: "0" },
  },
});
if (!values.data || !values.out) {
  console.error(
    "usage: ssl-experiment.ts --data EMOJI_DIR --out RUNS_DIR [--epochs 2 | --minutes 1.5] [--preset resnet-tiny] [--batch 64] [--seed 0]",
  );
  process.exit(2);
}
const data = values.data;
const out = values.out;
// A fixed number of epochs makes the configurations comparable on a machine whose load varies.
const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
const minutes = epochs === undefined ? Number(values.minutes) : undefined;
const preset = values.preset as ImageEncoderPreset; // checked by imageEncoderConfig
const batch = Number(values.batch);
const seed = Number(values.seed);
mkdirSync(out, { recursive: true });

type Config = { name: string } & Partial<ImageMethodOptions>;
const CONFIGS: Config[] = [
  { name: "baseline: full aug, cosine, τ 0.5", augment: "simclr", similarity: "cosine", temperature: 0.5 },
  { name: "crop only, cosine, τ 0.5", augment: "crop", similarity: "cosine", temperature: 0.5 },
  { name: "full aug, dot, τ 0.5", augment: "simclr", similarity: "dot", temperature: 0.5 },
  { name: "full aug, cosine, τ 0.1", augment: "simclr", similarity: "cosine", temperature: 0.1 },
];

const rows: Record<string, unknown>[] = [];
const evalOpts = { data: join(data, "test.jsonl"), knnTrain: join(data, "train.jsonl") };
const t0 = performance.now();

// Reference: the encoder as initialized, never trained.
const initDir = join(out, "untrained");
mkdirSync(initDir, { recursive: true });
saveImageEncoder(initDir, new ImageEncoder(imageEncoderConfig(preset)).initialize(seed), { step: 0, preset });
const init = await evaluateImageEncoder(initDir, evalOpts);
rows.push({
  name: "untrained encoder",
  steps: 0,
  knn: init.knn.top1,
  probe: init.linear_probe.top1,
  chance: init.chance,
});
console.log(rows.at(-1));

for (const [i, c] of CONFIGS.entries()) {
  const dir = join(out, `simclr-${i}`);
  const { name, ...opts } = c;
  const r = await trainImageMethod({
    method: "simclr",
    data: join(data, "train.jsonl"),
    out: dir,
    preset,
    minutes,
    epochs,
    batch,
    seed,
    lr: 1e-3,
    ...opts,
  });
  const e = await evaluateImageEncoder(dir, evalOpts);
  rows.push({
    name,
    steps: r.steps,
    secondsPerStep: r.secondsPerStep,
    firstLoss: r.losses[0],
    lastLoss: r.lastLoss,
    knn: e.knn.top1,
    probe: e.linear_probe.top1,
    probeTrain: e.linear_probe.trainTop1,
    chance: e.chance,
  });
  console.log(rows.at(-1));
}

const overhead = [];
for (const method of ["simclr", "moco"] as const)
  overhead.push(await measureMethodOverhead({ method, preset, batch, repeats: 10 }));
console.log(overhead);

const seconds = (performance.now() - t0) / 1000;
const pct = (x: unknown) => `${((x as number) * 100).toFixed(1)} %`;
const table = [
  "| configuration | steps | s/step | loss first → last | kNN top-1 | linear probe top-1 |",
  "|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.steps} | ${r.secondsPerStep ? (r.secondsPerStep as number).toFixed(2) : "–"} | ${
        r.firstLoss !== undefined
          ? `${(r.firstLoss as number).toFixed(2)} → ${(r.lastLoss as number).toFixed(2)}`
          : "–"
      } | ${pct(r.knn)} | ${pct(r.probe)} |`,
  ),
].join("\n");
console.log(`\n${table}\n\nchance (majority class of the test set): ${pct(init.chance)}`);
console.log(`total ${(seconds / 60).toFixed(1)} min on ${cpus().length} × ${cpus()[0]?.model}`);
writeFileSync(
  join(out, "results.json"),
  `${JSON.stringify({ preset, batch, minutes, epochs, seed, rows, overhead, chance: init.chance, seconds }, null, 2)}\n`,
);
