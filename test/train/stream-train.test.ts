/**
 * Training on streamed data (dataMode "stream"): CLIP on WebDataset shards and SupCon on a JSONL manifest,
 * each interrupted and resumed mid-epoch against an uninterrupted run (the same losses, bit for bit); what
 * the checkpoint records; auto's choice; a resume that would change how the data is read is refused.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import sharp from "sharp";
import { train as trainCommand } from "../../src/cli/commands/train.js";
import { openTrainingData } from "../../src/train/data.js";
import { train, trainClip, trainImageMethod } from "../../src/train/loop.js";
import { runCommand } from "../apps/fixtures.js";
import { tar } from "../data/fixtures.js";
import { quiet, TINY_ENCODER, writeShapeSet } from "../methods/fixtures.js";
import { TINY_CLIP } from "./fixtures.js";

const CONFIG = TINY_CLIP;

const colours = ["red", "green", "blue", "yellow", "purple", "orange"];
const temp = (what: string) => mkdtempSync(join(tmpdir(), `juxta-stream-${what}-`));

/** Three shards of six captioned squares (a colour and a size each). */
async function writeShards(): Promise<string> {
  const dir = temp("shards");
  for (let s = 0; s < 3; s++) {
    const members: [string, Uint8Array | string][] = [];
    for (const [i, colour] of colours.entries()) {
      const size = 6 + 4 * s;
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect width="20" height="20" fill="white"/><rect x="${10 - size / 2}" y="${10 - size / 2}" width="${size}" height="${size}" fill="${colour}"/></svg>`;
      const key = `s${s}-${i}`;
      members.push([`${key}.png`, await sharp(Buffer.from(svg)).png().toBuffer()]);
      members.push([`${key}.txt`, `a ${["small", "middling", "big"][s]} ${colour} square`]);
    }
    writeFileSync(join(dir, `part-${s}.tar`), tar(members));
  }
  return dir;
}

const losses = (run: string) =>
  readFileSync(join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { loss: number }).loss);

const loaderRecord = (run: string) =>
  (JSON.parse(readFileSync(join(run, "state.json"), "utf8")) as { loader: unknown }).loader;

describe("streamed training", () => {
  it("clip on shards: a run stopped mid-epoch and resumed (CLI) sees an uninterrupted run's batches", async () => {
    const data = await writeShards();
    const common = {
      data,
      config: CONFIG,
      epochs: 2,
      batch: 4,
      lr: 2e-3,
      seed: 1,
      dataMode: "stream" as const,
      shuffleBuffer: 5,
      stream: quiet,
    };
    const whole = await trainClip({ ...common, out: temp("whole") });
    assert.equal(whole.steps, 8, "18 pairs, batches of 4 (the last dropped), 2 epochs");
    const out = temp("cut");
    const cut = await trainClip({ ...common, out, stopAfter: 3, saveEvery: 100 });
    assert.equal(cut.steps, 3);
    assert.deepEqual(loaderRecord(out), {
      mode: "stream",
      samples: 18,
      shuffleBuffer: 5,
      position: { epoch: 0, sample: 12 },
    });
    await assert.rejects(
      trainClip({ out, resume: true, dataMode: "cache", stream: quiet }),
      /dataMode cache differs from the run's stream; a resumed run reads its data as it did/,
    );
    await assert.rejects(
      runCommand(trainCommand, ["--resume", "--out", out, "--shuffle-buffer", "9"]),
      /--shuffle-buffer 9 differs from the run's 5/,
    );
    await runCommand(trainCommand, ["--resume", "--out", out, "--data-mode", "stream"]);
    assert.deepEqual(losses(out), whole.losses);
    assert.deepEqual(loaderRecord(out), {
      mode: "stream",
      samples: 18,
      shuffleBuffer: 5,
      position: { epoch: 2, sample: 0 },
    });
  });

  it("supcon on a streamed JSONL manifest: labels from the counting pass, exact resume", async () => {
    const data = await writeShapeSet(temp("shapes"), "train", 4);
    const common = {
      method: "supcon" as const,
      data,
      encoder: TINY_ENCODER,
      batch: 4,
      epochs: 2,
      lr: 3e-3,
      augment: "crop" as const,
      dataMode: "stream" as const,
      seed: 2,
      stream: quiet,
    };
    const whole = await trainImageMethod({ ...common, out: temp("supcon") });
    assert.deepEqual(whole.classes, ["disc", "square", "triangle"]);
    assert.equal(whole.steps, 6);
    const out = temp("supcon-cut");
    await trainImageMethod({ ...common, out, stopAfter: 4 });
    const rest = await train({ out, resume: true, stream: quiet });
    assert.equal(rest.steps, 6);
    assert.deepEqual(losses(out), whole.losses);
  });

  it("auto caches data that fits and streams data that does not, saying why", async () => {
    const data = await writeShards();
    const lines: string[] = [];
    const stream = { write: (s: string) => lines.push(s) > 0 };
    const fits = await openTrainingData(data, { size: 16, seed: 0, stream });
    assert.equal(fits.record.mode, "cache");
    assert.equal(fits.summary.count, 18);
    assert.match(
      lines.join(""),
      /data: decoding into the pixel cache \(18 samples, a pixel cache of about 0 MB/,
    );
    const big = await openTrainingData(data, { size: 16, seed: 0, stream, cacheLimitBytes: 1000 });
    assert.deepEqual(big.record, { mode: "stream", samples: 18, shuffleBuffer: 1000 });
    assert.match(lines.join(""), /data: streaming, decoded batch by batch in the loader's workers/);
    assert.equal(big.summary.labels.size, 0);
    assert.equal(big.summary.captions.length, 18);
    await assert.rejects(
      openTrainingData(data, { size: 16, seed: 0, stream, mode: "fast" as never }),
      /dataMode must be one of auto, cache, stream, got 'fast'/,
    );
  });
});
