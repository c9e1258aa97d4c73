/** Training with accumFreq (open_clip's --accum-freq) end to end: the big batch's run, exact resume, errors. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import sharp from "sharp";
import { train as trainCommand } from "../../src/cli/commands/train.js";
import { train, trainClip } from "../../src/train/loop.js";
import { runCommand } from "../apps/fixtures.js";
import { TINY_CLIP } from "./fixtures.js";

const CONFIG = TINY_CLIP;

/** 16 captioned squares in 8 colours and 2 sizes. */
async function makeData(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "juxta-accum-"));
  const rows: string[] = [];
  const colours = ["red", "green", "blue", "yellow", "purple", "orange", "black", "gray"];
  for (const [i, colour] of colours.entries())
    for (const size of [8, 16]) {
      const file = `c${i}-${size}.png`;
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect width="20" height="20" fill="white"/><rect x="${10 - size / 2}" y="${10 - size / 2}" width="${size}" height="${size}" fill="${colour}"/></svg>`;
      await sharp(Buffer.from(svg)).png().toFile(join(dir, file));
      rows.push(JSON.stringify({ image: file, text: `a ${size > 10 ? "big" : "small"} ${colour} square` }));
    }
  writeFileSync(join(dir, "data.jsonl"), `${rows.join("\n")}\n`);
  return join(dir, "data.jsonl");
}

const quiet = { write: () => true };
const run = () => mkdtempSync(join(tmpdir(), "juxta-accum-run-"));

describe("train with accumFreq", () => {
  it("4 micro-batches of 2 train as batches of 8; an interrupted run resumes exactly", async () => {
    const data = await makeData();
    const common = { data, config: CONFIG, epochs: 2, lr: 2e-3, seed: 1, stream: quiet };
    const big = await trainClip({ ...common, batch: 8, out: run() });
    const out = run();
    const accum = await trainClip({ ...common, batch: 2, accumFreq: 4, out, stopAfter: 3 });
    assert.equal(big.steps, 4);
    assert.equal(accum.steps, 3);
    const state = JSON.parse(readFileSync(join(out, "state.json"), "utf8")) as {
      totalSteps: number;
      options: Record<string, unknown>;
    };
    assert.equal(state.totalSteps, 4, "16 pairs / (4 × 2) per step × 2 epochs");
    assert.equal(state.options.accumFreq, 4);
    await assert.rejects(
      trainClip({ out, resume: true, accumFreq: 2, stream: quiet }),
      /accumFreq 2 differs from the run's 4/,
    );
    const rest = await trainClip({ out, resume: true, stream: quiet });
    assert.equal(rest.steps, 4);
    const losses = [...accum.losses, ...rest.losses];
    for (const [i, l] of big.losses.entries())
      assert.ok(Math.abs((losses[i] as number) - l) <= 1e-4 * l, `step ${i + 1}: ${losses[i]} vs ${l}`);
    // The same step on the resumed and the uninterrupted accumulated run: bit for bit.
    const whole = await trainClip({ ...common, batch: 2, accumFreq: 4, out: run() });
    assert.deepEqual(losses, whole.losses);
  });

  it("refuses a bad accumFreq, and image methods refuse it (the CLI names the flag)", async () => {
    const data = await makeData();
    await assert.rejects(
      trainClip({ data, config: CONFIG, accumFreq: 1.5, out: run(), stream: quiet }),
      /accumFreq must be a whole number of micro-batches \(1 or more\), got 1.5/,
    );
    await assert.rejects(
      train({ method: "simclr", data, accumFreq: 2, out: run(), stream: quiet } as never),
      /accumFreq does not apply to method simclr; it is for clip and siglip/,
    );
    await assert.rejects(
      runCommand(trainCommand, ["--method", "simclr", "--data", data, "--out", run(), "--accum-freq", "2"]),
      /--accum-freq does not apply to method simclr/,
    );
  });
});
