/** The scale suite's code on tens of images (never timed): shards written, every child run measured. */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { benchScale, parseSize, writeScaleShards } from "../../src/bench/scale.js";
import { bench } from "../../src/cli/commands/bench.js";
import { SkipLog } from "../../src/data/types.js";
import { readWebDataset } from "../../src/data/webdataset.js";
import { runCommand } from "../apps/fixtures.js";

test("sizes read as 10k, 100k, 1m or a count; others are refused", () => {
  assert.deepEqual(
    ["10k", "100K", "1m", "2500", "1.5k"].map(parseSize),
    [10_000, 100_000, 1_000_000, 2500, 1500],
  );
  assert.throws(() => parseSize("ten"), /size 'ten' is not a count like 10k, 100k, 1m or 2500/);
  assert.throws(() => parseSize("0"), /size '0' must be at least 1/);
});

test("the shards hold N captioned images in shards of 1,000, written once", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "juxta-scale-")), "s");
  const files = await writeScaleShards(1005, dir);
  assert.equal(files.length, 2);
  const samples = await readWebDataset(files, {}, new SkipLog(true));
  assert.equal(samples.length, 1005);
  assert.equal(samples[1004]?.text, "orange and purple 1004");
  assert.deepEqual(await writeScaleShards(1005, dir), files);
});

test("the suite measures embed and both training epochs in child processes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "juxta-scale-"));
  const r = await benchScale({ sizes: [24], batch: 8, emoji: false, dir });
  for (const key of [
    "embed_24_peak_rss_mb",
    "train_stream_24_peak_rss_mb",
    "train_cache_24_peak_rss_mb",
    "train_stream_24_pairs_per_s",
  ])
    assert.ok((r[key] as number) > 0, `${key}: ${r[key]}`);
  assert.equal(r.train_stream_24_steps, 3);
  assert.equal(r.train_cache_24_steps, 3);
  await assert.rejects(
    runCommand(bench, ["--suite", "scale", "--sizes", "lots"]),
    /size 'lots' is not a count/,
  );
});
