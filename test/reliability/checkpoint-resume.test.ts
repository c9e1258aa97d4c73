/**
 * Resume safety (issue 11, cases 10 and 13): a run records its data's absolute path and fingerprint, so
 * a resume from another working folder finds the data and changed data is refused in one line (unless
 * accepted); SIGTERM checkpoints and stops like Ctrl-C, and an interrupted `juxta train` exits 143 / 130.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { readCheckpoint, readState } from "../../src/train/checkpoint.js";
import { tempDir, tinyModel } from "../apps/fixtures.js";
import { juxta, MAIN } from "./cli.js";
import { CHILD, metricLines, tinyPairs, trainChild } from "./train-fixtures.js";

const run = { batch: 4, epochs: 2, saveEvery: 2, lr: 2e-3, seed: 1 };

describe("resume and the training data (case 10)", () => {
  let root = "";
  before(async () => {
    root = tempDir();
    await tinyPairs(root);
  });

  it("records the data's absolute path and fingerprint; a resume from another folder works", () => {
    // Started with a relative path, from the data's folder.
    const r = trainChild({ ...run, data: "data.jsonl", out: "rel", stopAfter: 2 }, [], { cwd: root });
    assert.equal(r.status, 0, r.stderr);
    const out = join(root, "rel");
    const state = readState(out);
    assert.equal(state?.options.data, join(root, "data.jsonl"));
    assert.equal(state?.data?.kind, "file");
    assert.equal(state?.data?.size, readFileSync(join(root, "data.jsonl")).byteLength);
    assert.match(state?.data?.sha256 ?? "", /^[0-9a-f]{64}$/);
    const again = trainChild({ out, resume: true }, [], { cwd: tempDir() });
    assert.equal(again.status, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { steps: number }).steps, 4);
  });

  it("refuses changed data in one line, accepts it with --accept-changed-data, and ignores a mere touch", async () => {
    const dir = tempDir();
    const data = await tinyPairs(dir);
    const out = join(dir, "run");
    assert.equal(trainChild({ ...run, data, out, stopAfter: 1 }).status, 0);
    // Same bytes, a new mtime: the same data.
    utimesSync(data, new Date(), new Date(Date.now() + 5000));
    const touched = trainChild({ out, resume: true, stopAfter: 1 });
    assert.equal(touched.status, 0, touched.stderr);
    const before = readFileSync(data).byteLength;
    appendFileSync(data, `${JSON.stringify({ image: "red-small.png", text: "another red square" })}\n`);
    const refused = juxta(["train", "--resume", "--out", out]);
    assert.equal(refused.status, 1);
    assert.equal(
      refused.stderr,
      `juxta: --resume: the run's data ${data} changed since the run started (it holds ${readFileSync(data).byteLength} bytes, was ${before}); pass --accept-changed-data to train on it anyway\n`,
    );
    assert.equal(readState(out)?.step, 2);
    const accepted = juxta(["train", "--resume", "--out", out, "--accept-changed-data"]);
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.match(accepted.stderr, /data\.jsonl holds \d+ bytes, was \d+; training on it as it is now/);
  });
});

/** Start `juxta train` (or train-child.js), wait for its first metrics line, send `signal`, await the end. */
function interrupt(
  args: string[],
  out: string,
  signal: NodeJS.Signals,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    const metrics = join(out, "metrics.jsonl");
    const poll = setInterval(() => {
      if (existsSync(metrics) && readFileSync(metrics, "utf8").length > 0) {
        clearInterval(poll);
        child.kill(signal);
      }
    }, 20);
    const limit = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearInterval(poll);
      clearTimeout(limit);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("SIGTERM and Ctrl-C (case 13)", () => {
  let data = "";
  let init = "";
  before(async () => {
    data = await tinyPairs(tempDir());
    init = tinyModel();
  });

  for (const [signal, status] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    it(`${signal}: juxta train saves a final checkpoint and exits ${status}; the run resumes`, async () => {
      const out = join(tempDir(), "run");
      const args = [MAIN, "train", "--init", init, "--data", data, "--out", out];
      const r = await interrupt(
        [...args, "--epochs", "500", "--batch", "4", "--save-every", "100000"],
        out,
        signal,
      );
      assert.equal(r.status, status, r.stderr);
      const m = new RegExp(
        `interrupted \\(${signal}\\): checkpoint at step (\\d+) saved in ${out}; continue with --resume`,
      ).exec(r.stderr);
      assert.ok(m, r.stderr);
      const at = readCheckpoint(out);
      assert.equal(at?.state.step, Number(m[1]));
      assert.equal(metricLines(out).length, Number(m[1]));
      assert.match(r.stdout, /trained to step \d+ of 1000 \(continue with --resume\)/);
    });
  }

  it("the library's train() reports the signal that interrupted it", async () => {
    const out = join(tempDir(), "run");
    const r = await interrupt(
      [CHILD, JSON.stringify({ data, out, batch: 4, epochs: 500, saveEvery: 100000 })],
      out,
      "SIGTERM",
    );
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { steps: number; interrupted?: string };
    assert.equal(result.interrupted, "SIGTERM");
    assert.equal(readCheckpoint(out)?.state.step, result.steps);
  });
});
