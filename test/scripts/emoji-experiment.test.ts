/**
 * The emoji recipe experiment (scripts/emoji-experiment.ts) on a slice with a small model and a few steps:
 * the splits it builds, the figures it records, that a second invocation adds nothing, that an interrupted
 * run resumes to its step count, and the table. Its real figures come from running the script.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { emojiTable, LEVERS, readResults, runEmojiExperiment } from "../../scripts/emoji-experiment.js";
import type { EmojiRow } from "../../src/data/emoji.js";
import { readState } from "../../src/train/checkpoint.js";
import { trainClip } from "../../src/train/loop.js";
import { tempDir, tinyConfig } from "../apps/fixtures.js";

const rows = (file: string) =>
  readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as EmojiRow);

test("emoji experiment: splits, recorded figures, resume, no rerun, table", async () => {
  const out = tempDir();
  const smoke = { out, steps: 3, limit: 40, batch: 8, config: tinyConfig(600), threads: 1, log: () => {} };
  await runEmojiExperiment({ ...smoke, only: ["baseline"], splits: ["all"] });
  // A run interrupted after one of its steps: the experiment continues it rather than starting over.
  const interrupted = join(out, "runs", "baseline", "cross-seed0");
  const stopped = await trainClip({
    data: join(out, "data", "one-40", "train-google.jsonl"),
    out: interrupted,
    steps: 3,
    seed: 0,
    batch: 8,
    config: tinyConfig(600),
    stopAfter: 1,
    stream: { write: () => true },
  });
  assert.equal(stopped.steps, 1);
  const results = await runEmojiExperiment({ ...smoke, only: ["baseline", "several"], seeds: 2 });

  const several = join(out, "data", "several-40");
  // The slice keeps both artists of each emoji; cross-artist trains on Google, tests on Twitter.
  const train = rows(join(several, "train.jsonl"));
  assert.ok(train.length >= 30 && train.length <= 44, `${train.length} training rows`);
  assert.ok(Array.isArray(train[0]?.text), "captions several: a list per training row");
  assert.ok(rows(join(several, "train-google.jsonl")).every((r) => r.style === "google"));
  const twitter = rows(join(several, "test-twitter.jsonl"));
  assert.ok(twitter.length > 0 && twitter.every((r) => r.style === "twitter"));
  const trainEmoji = new Set(train.map((r) => r.emoji));
  assert.ok(
    twitter.every((r) => !trainEmoji.has(r.emoji)),
    "test emoji are never trained on",
  );

  // 2 seeds × 2 levers × 2 splits, but the baseline's first run was recorded by the first invocation.
  assert.equal(results.length, 8);
  assert.deepEqual(
    new Set(results.map((r) => `${r.config}/${r.split}/${r.seed}`)).size,
    8,
    "each (lever, split, seed) once",
  );
  for (const r of results) {
    assert.equal(r.steps, 3);
    for (const v of [r.t2i10, r.i2t10, r.zeroShot]) assert.ok(v >= 0 && v <= 1, JSON.stringify(r));
    assert.equal(r.split === "cross", r.sameT2i10 !== undefined);
  }
  assert.equal(readState(interrupted)?.step, 3, "the interrupted run was resumed to its 3 steps");
  assert.ok(readFileSync(join(interrupted, "train.log"), "utf8").includes("resuming at step 1"));

  // Everything is recorded: a second invocation trains nothing and adds no line.
  const again = await runEmojiExperiment({ ...smoke, only: ["baseline", "several"], seeds: 2 });
  assert.equal(again.length, 8);
  assert.equal(readResults(out).length, 8);

  const table = emojiTable(results).split("\n");
  assert.equal(table.length, 4, "header, rule, two levers");
  assert.match(
    table[2] ?? "",
    /^\| captions one \(the defaults before 2026-12-04\) \| 2 \| \d\.\d{3} ± \d\.\d{3} \|/,
  );
  assert.match(
    table[3] ?? "",
    /^\| captions several \(today's defaults\) \| 2 \|.*\| [+−]\d\.\d{3}( \*\*)? \|/,
  );
});

test("emoji experiment: a vocabulary lever trains the model with its BPE size", async () => {
  const out = tempDir();
  const smoke = { out, steps: 2, limit: 40, batch: 8, config: tinyConfig(600), threads: 1, log: () => {} };
  const [r] = await runEmojiExperiment({ ...smoke, only: ["several-vocab1k"], splits: ["all"] });
  assert.equal(r?.config, "several-vocab1k");
  const run = join(out, "runs", "several-vocab1k", "all-seed0");
  const saved = JSON.parse(readFileSync(join(run, "juxta.json"), "utf8"));
  assert.equal(saved.model.text.vocabSize, 1024, "the lever's vocabulary, not the smoke config's 600");
});

test("emoji experiment: a lever with cheaper steps trains more of them in the same time", async () => {
  const out = tempDir();
  const smoke = { out, steps: 3, limit: 40, batch: 8, config: tinyConfig(600), threads: 1, log: () => {} };
  const lever = LEVERS.find((l) => l.name === "several-pd50");
  assert.ok(lever?.stepCost !== undefined && lever.stepCost < 1);
  const [r] = await runEmojiExperiment({ ...smoke, only: ["several-pd50"], splits: ["all"] });
  const expected = Math.round(3 / lever.stepCost);
  assert.ok(expected > 3);
  assert.equal(r?.steps, expected);
  assert.equal(readState(join(out, "runs", "several-pd50", "all-seed0"))?.step, expected);
});
