/**
 * Issue 11: a bounded fuzz run over every file parser (tar, CSV/TSV/JSONL manifests, safetensors, npy,
 * IDX plain and gzipped, CIFAR, tokenizer.json, the model configs juxta.json, Hugging Face config.json and
 * open_clip_config.json, and a vector index's header.json, vectors.f32 and items.jsonl): random mutations
 * of valid files (fuzz-run.ts), in a child process with a heap cap and a time limit, each input under its
 * own time and memory limit; the only allowed outcomes are success and a one-line UserError. A finding
 * prints its input (base64) to keep as a regression case; the ones found so far are below.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PLAN_FILE, readPlan } from "../../src/distributed/plan.js";
import { readNpy, writeNpy } from "../../src/io/npy.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { loadModel } from "../../src/pretrained/open.js";
import { VectorIndex } from "../../src/search/index.js";
import { parseTokenizerJson } from "../../src/text/formats.js";
import { readState, STATE_FILE } from "../../src/train/checkpoint.js";
import { UserError } from "../../src/util/errors.js";
import { tempDir, tinyModel } from "../apps/fixtures.js";
import { projectRoot } from "../helpers.js";

/** `f` fails with a UserError of one line matching `pattern`. */
function oneLine(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: Error) => {
    assert.ok(e instanceof UserError, `${e.name}: ${e.message}`);
    assert.ok(!e.message.includes("\n"), JSON.stringify(e.message));
    assert.match(e.message, pattern);
    return true;
  });
}

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

test("regression (fuzzing, seed 21): a safetensors header's JSON error is one line", () => {
  const file = join(tempDir(), "f.safetensors");
  const header = Buffer.from('{"w":{"dtype":of\nsets":[0, 4]}}');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(4)]));
  oneLine(() => readSafetensors(file), /header is not valid UTF-8 JSON/);
});

test("regression (fuzzing, seed 21): an npy header quoted in an error is one line", () => {
  const file = join(tempDir(), "f.npy");
  writeNpy(file, new Float32Array(6), [2, 3]);
  const bytes = readFileSync(file);
  const text = bytes.toString("latin1").replace("'fortran_order'", "'fort\nran_order'");
  writeFileSync(file, Buffer.from(text, "latin1"));
  oneLine(() => readNpy(file), /header has no valid 'fortran_order' entry: ".*\\n.*"/);
});

test("regression (fuzzing, seed 7): a model config's JSON error is one line (juxta.json, config.json)", () => {
  const dir = tinyModel();
  const path = join(dir, "juxta.json");
  writeFileSync(path, readFileSync(path, "utf8").replace('"layers"', '"layers"\u000f'));
  oneLine(() => loadModel(dir), /juxta\.json: not valid JSON/);
  const hf = tempDir();
  writeFileSync(join(hf, "config.json"), '{\n  "model_type": "clip",\n  "x": +\n}');
  oneLine(() => loadModel(hf), /config\.json: not valid JSON/);
});

test("regression: a damaged run state or embedding plan is refused in one line (V8 quotes the text, newlines and all)", () => {
  const run = tempDir();
  writeFileSync(join(run, STATE_FILE), '{\n  "step": 3,\n  "totalSteps": +\n}');
  oneLine(() => readState(run), /state\.json: not valid JSON/);
  const out = tempDir();
  writeFileSync(join(out, PLAN_FILE), '{\n  "shards": +\n}');
  oneLine(() => readPlan(out), /plan\.json: not valid JSON/);
});

test("regression (found writing the index fuzz target): a header's huge dim is refused, not allocated", () => {
  const dir = tempDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "vectors.f32"), "");
  writeFileSync(join(dir, "items.jsonl"), "");
  const header = { format: "juxta-vector-index", version: 1, dim: 1e9, metric: "cosine", count: 0 };
  const rest = { dtype: "float32", byte_order: "little", vectors_bytes: 0, items_bytes: 0 };
  writeFileSync(join(dir, "header.json"), JSON.stringify({ ...header, ...rest }));
  oneLine(
    () => VectorIndex.load(dir),
    /header\.json \(field 'dim'\): expected at most 65536, got 1000000000/,
  );
});
