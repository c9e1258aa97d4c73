/**
 * Issue 11: a bounded fuzz run over every file parser (tar, CSV/TSV/JSONL manifests, safetensors, npy,
 * IDX plain and gzipped, CIFAR, tokenizer.json): random mutations of valid files (fuzz-run.ts), in a
 * child process with a heap cap and a time limit; the only allowed outcomes are success and a one-line
 * UserError. A finding prints its input (base64) to keep as a regression case.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { parseTokenizerJson } from "../../src/text/formats.js";
import { projectRoot } from "../helpers.js";

test("fuzzing every parser finds no crash, hang or multi-line error", () => {
  const script = join(projectRoot, "dist", "test", "reliability", "fuzz-run.js");
  const r = spawnSync(process.execPath, ["--max-old-space-size=512", script, "7", "60"], {
    encoding: "utf8",
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  const lines = r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, string>);
  const last = lines.at(-1);
  assert.ok(
    last?.done,
    `the run stopped (status ${r.status}, signal ${r.signal}) at ${JSON.stringify(last)}: ${r.stderr.slice(0, 500)}`,
  );
  assert.deepEqual(
    lines.filter((l) => l.finding),
    [],
  );
});

test("regression (found by fuzzing): a JSON error in tokenizer.json is one line", () => {
  assert.throws(
    () => parseTokenizerJson('{\n  "model": {\n    "vocab": {\n  "a": 1,\n  x\n', "tokenizer.json"),
    (e: Error) => !e.message.includes("\n") && /expected JSON/.test(e.message),
  );
});
