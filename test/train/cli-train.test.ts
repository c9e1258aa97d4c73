/** `juxta train --method …`: dispatch to the CLIP/SigLIP and image-method trainers, resume by the run's method. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { train } from "../../src/cli/commands/train.js";
import { trainClip, trainImageMethod } from "../../src/train/loop.js";
import { runCommand, tempDir, tinyConfig } from "../apps/fixtures.js";
import { quiet, TINY_ENCODER, writeShapeSet } from "../methods/fixtures.js";

const options = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as { options: Record<string, unknown> }).options;

describe("juxta train --method", () => {
  let root = "";
  let data = "";
  before(async () => {
    root = tempDir();
    data = await writeShapeSet(root, "shapes", 8);
  });

  it("trains an image method with its flags, and records them", async () => {
    const out = join(root, "supcon");
    const printed = await runCommand(train, [
      "--method",
      "supcon",
      "--data",
      data,
      "--out",
      out,
      "--batch",
      "12",
      "--epochs",
      "1",
      "--temperature",
      "0.2",
      "--augment",
      "crop",
      "--views",
      "1",
    ]);
    assert.match(
      printed[0]!,
      /^supcon: trained to step 2 of 2, final loss [\d.]+; set-up [\d.]+s, training [\d.]+s; encoder saved in /,
    );
    const o = options(out);
    assert.equal(o.method, "supcon");
    assert.equal(o.preset, "resnet-tiny");
    assert.equal(o.temperature, 0.2);
    assert.equal(o.augment, "crop");
    assert.equal(o.views, 1);
    const saved = JSON.parse(readFileSync(join(out, "juxta.json"), "utf8")) as Record<string, unknown>;
    assert.equal(saved.architecture, "image-encoder");
    assert.deepEqual(saved.classes, ["disc", "square", "triangle"]);
  });

  it("--resume finds an image run's method in the folder", async () => {
    const out = join(root, "simclr");
    const part = await trainImageMethod({
      method: "simclr",
      data,
      out,
      encoder: TINY_ENCODER,
      batch: 8,
      epochs: 1,
      stopAfter: 1,
      workers: 0,
      stream: quiet,
    });
    assert.equal(part.steps, 1);
    await assert.rejects(
      runCommand(train, ["--resume", "--out", out, "--method", "clip"]),
      /--method clip differs from the run's simclr/,
    );
    const printed = await runCommand(train, ["--resume", "--out", out]);
    assert.match(printed[0]!, /^simclr: trained to step 3 of 3, /);
    // A finished run is not stepped again (the loop says so on its stream and returns).
    const again = await runCommand(train, ["--resume", "--out", out]);
    assert.deepEqual(again, []);
    assert.equal(JSON.parse(readFileSync(join(out, "state.json"), "utf8")).step, 3);
    assert.equal(options(out).method, "simclr");
  });

  it("--resume finds a SigLIP run's method in the folder", async () => {
    const out = join(root, "siglip");
    await trainClip({
      method: "siglip",
      data,
      out,
      config: tinyConfig(600),
      batch: 8,
      epochs: 1,
      stopAfter: 1,
      stream: quiet,
    });
    const printed = await runCommand(train, ["--resume", "--out", out]);
    assert.match(printed[0]!, /^trained to step 3 of 3, /);
    const saved = JSON.parse(readFileSync(join(out, "juxta.json"), "utf8")) as Record<string, unknown>;
    assert.equal(saved.method, "siglip");
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    assert.equal(metrics.length, 3);
    assert.ok(metrics.every((l) => Number.isFinite((JSON.parse(l) as { bias: number }).bias)));
  });

  it("rejects flags of the other family, unknown methods and bad choices", async () => {
    const out = join(root, "never");
    const run = (...args: string[]) => runCommand(train, ["--data", data, "--out", out, ...args]);
    await assert.rejects(
      run("--method", "byol"),
      /--method expects one of clip, siglip, simclr, moco, supcon, triplet/,
    );
    await assert.rejects(
      run("--method", "simclr", "--tokenizer", "t.json"),
      /--tokenizer does not apply to method simclr/,
    );
    await assert.rejects(run("--temperature", "0.1"), /--temperature does not apply to method clip/);
    await assert.rejects(
      run("--method", "simclr", "--augment", "heavy"),
      /--augment expects one of simclr, mocov2, crop, none/,
    );
    await assert.rejects(run("--method", "triplet", "--miner", "easy"), /--miner expects one of/);
    for (const method of ["clip", "simclr"])
      await assert.rejects(
        run("--method", method, "--epochs", "1", "--minutes", "0.1"),
        /--epochs and --minutes both set the schedule's length; give one/,
      );
  });
});
