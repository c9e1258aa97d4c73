/**
 * Checkpoints as generations (issue 11, cases 1 and 2): the run folder's layout, the model view every
 * reader opens, files checked against checkpoint.json on resume, and run folders from before generations.
 */
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { loadClip } from "../../src/models/saved.js";
import { readCheckpoint } from "../../src/train/checkpoint.js";
import { trainClip } from "../../src/train/loop.js";
import { UserError } from "../../src/util/errors.js";
import { tempDir } from "../apps/fixtures.js";
import { quiet } from "../methods/fixtures.js";
import { CHILD_CONFIG, tinyPairs } from "../reliability/train-fixtures.js";

describe("checkpoints as generations", () => {
  let root = "";
  let data = "";
  let whole = "";
  let half = "";
  const common = () => ({
    data,
    config: structuredClone(CHILD_CONFIG) as never,
    batch: 4,
    epochs: 2,
    saveEvery: 2,
    lr: 2e-3,
    seed: 1,
    workers: 0,
    stream: quiet,
  });
  before(async () => {
    root = tempDir();
    data = await tinyPairs(root);
    whole = join(root, "whole");
    await trainClip({ ...common(), out: whole });
    half = join(root, "half");
    await trainClip({ ...common(), out: half, stopAfter: 2 });
  });

  it("keeps one complete checkpoint in checkpoints/gen-N, named by checkpoint.json, its model linked at the top", () => {
    assert.deepEqual(readdirSync(half).sort(), [
      "checkpoint.json",
      "checkpoints",
      "evals.jsonl",
      "juxta.json",
      "metrics.jsonl",
      "model.safetensors",
      "state.json",
      "tokenizer.json",
    ]);
    const pointer = JSON.parse(readFileSync(join(half, "checkpoint.json"), "utf8"));
    assert.equal(pointer.step, 2);
    assert.equal(pointer.folder, join("checkpoints", "gen-000001"));
    assert.deepEqual(Object.keys(pointer.files).sort(), [
      "juxta.json",
      "model.safetensors",
      "optimizer.safetensors",
      "state.json",
      "tokenizer.json",
    ]);
    for (const f of ["model.safetensors", "juxta.json", "tokenizer.json", "state.json"])
      assert.equal(statSync(join(half, f)).ino, statSync(join(half, pointer.folder, f)).ino, f);
    // After the second checkpoint only it is kept.
    assert.deepEqual(readdirSync(join(whole, "checkpoints")), ["gen-000002"]);
    assert.equal(loadClip(whole).config.step, 4);
  });

  it("refuses a resume from a checkpoint whose file changed, naming it, in one line", async () => {
    const out = join(root, "damaged");
    cpSync(half, out, { recursive: true });
    const opt = join(out, "checkpoints", "gen-000001", "optimizer.safetensors");
    const bytes = readFileSync(opt);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(opt, bytes);
    await assert.rejects(trainClip({ out, resume: true, stream: quiet }), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.match(
        e.message,
        /^.*gen-000001\/optimizer\.safetensors: its content differs from the sha256 .*checkpoint\.json records .*; the checkpoint was changed or damaged$/,
      );
      return true;
    });
    rmSync(opt);
    await assert.rejects(
      trainClip({ out, resume: true, stream: quiet }),
      /optimizer\.safetensors is missing; .*checkpoint\.json lists it/,
    );
  });

  it("resumes a run folder from before generations and turns it into one", async () => {
    const out = join(root, "legacy");
    cpSync(half, out, { recursive: true });
    // The old layout: every checkpoint file at the run's top, no pointer.
    const gen = join(out, "checkpoints", "gen-000001");
    for (const f of readdirSync(gen)) {
      rmSync(join(out, f), { force: true });
      renameSync(join(gen, f), join(out, f));
    }
    rmSync(join(out, "checkpoints"), { recursive: true });
    rmSync(join(out, "checkpoint.json"));
    assert.equal(readCheckpoint(out)?.state.step, 2);
    const rest = await trainClip({ out, resume: true, stream: quiet });
    assert.equal(rest.steps, 4);
    assert.ok(!existsSync(join(out, "optimizer.safetensors")));
    assert.deepEqual(readdirSync(join(out, "checkpoints")), ["gen-000001"]);
    assert.deepEqual(
      readFileSync(join(out, "model.safetensors")),
      readFileSync(join(whole, "model.safetensors")),
    );
  });
});
