/**
 * Issue 11, cases 6 and 7 (load): long query texts never reach the command line, and a model whose
 * weights hold NaN or Infinity is refused on load with one line instead of computing NaN embeddings.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { ARGV_LIMIT, checkArgvLength, readQueryText } from "../../src/io/text-input.js";
import { UserError } from "../../src/util/errors.js";
import { colourImages, tempDir, tinyModel } from "../apps/fixtures.js";
import { assertOneLineError, juxta } from "./cli.js";

let work: string;
let model: string;
before(async () => {
  work = tempDir();
  model = tinyModel();
  await colourImages(work);
});

describe("case 6: long query texts come from a file or stdin", () => {
  let index: string;
  before(() => {
    index = join(work, "idx");
    const r = juxta(["index", "--model", model, "--images", "img", "--index", index], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
  });
  const long = `${"a red square ".repeat(2300)}`.trim();

  test("a ~30 KB query on the command line is refused with one line (it segfaulted onnxruntime-node)", () => {
    assert.ok(long.length > ARGV_LIMIT);
    const r = juxta(["search", "--index", index, long, "--top", "1"]);
    assertOneLineError(r, /the command line holds \d+ characters.*--query-file/);
  });

  test("the same query through --query-file FILE and --query-file - (stdin) searches", () => {
    const file = join(work, "q.txt");
    writeFileSync(file, long);
    const a = juxta(["search", "--index", index, "--query-file", file, "--top", "2", "--json"]);
    const b = juxta(["search", "--index", index, "--query-file", "-", "--top", "2", "--json"], {
      input: long,
    });
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(JSON.parse(a.stdout).length, 2);
    assert.equal(a.stdout, b.stdout);
    assertOneLineError(juxta(["search", "--index", index, "--query-file", file, "more"]), /not both/);
  });

  test("readQueryText caps the size and wants UTF-8", () => {
    const big = join(work, "big.txt");
    writeFileSync(big, Buffer.alloc((1 << 20) + 1, 0x61));
    assert.throws(() => readQueryText(big), /more than the limit of 1048576/);
    const bad = join(work, "bad.txt");
    writeFileSync(bad, Buffer.from([0xff, 0xfe, 0x41]));
    assert.throws(() => readQueryText(bad), /not valid UTF-8/);
    assert.throws(() => readQueryText(join(work, "none.txt")), UserError);
    assert.doesNotThrow(() => checkArgvLength(["node", "juxta", "search", "a cat"]));
  });
});

describe("case 7 (load): non-finite weights are refused", () => {
  test("a NaN in model.safetensors: embed fails with one line, no NaN embeddings written", () => {
    const file = join(model, "model.safetensors");
    const { tensors, metadata } = readSafetensors(file);
    const out: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
    for (const [name, t] of tensors)
      out[name] = { dtype: "F32", shape: t.shape, data: Float32Array.from(t.data as Float32Array) };
    const victim = Object.keys(out).find((n) => n.includes("proj"))!;
    out[victim]!.data[3] = Number.NaN;
    const broken = tempDir();
    for (const f of ["juxta.json", "tokenizer.json"])
      writeFileSync(join(broken, f), readFileSync(join(model, f)));
    writeSafetensors(join(broken, "model.safetensors"), out, metadata);
    const r = juxta(["embed", "--model", broken, "--images", "img", "--out", "e.npy"], { cwd: work });
    assertOneLineError(
      r,
      new RegExp(`tensor '${victim.replace(/\./g, "\\.")}' holds NaN at element 3: the weights diverged`),
    );
  });
});
