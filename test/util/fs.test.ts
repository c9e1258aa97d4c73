/** Atomic writes leave either the old or the new file, never a temp file; JSON-lines appends. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { appendJsonLine, writeFileAtomic, writeJsonAtomic } from "../../src/util/fs.js";

const fresh = () => mkdtempSync(join(tmpdir(), "juxta-"));

describe("writeFileAtomic", () => {
  test("creates and replaces a file, from text, bytes or chunks, leaving no temp file", () => {
    const dir = fresh();
    const path = join(dir, "out.bin");
    writeFileAtomic(path, "first ✓");
    assert.equal(readFileSync(path, "utf8"), "first ✓");
    writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
    assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
    const big = new Uint8Array(3 << 20).map((_, i) => i % 251);
    writeFileAtomic(path, [Uint8Array.from([9]), big.subarray(5), new Uint8Array(0)]);
    const back = readFileSync(path);
    assert.equal(back.length, 1 + big.length - 5);
    assert.equal(back[0], 9);
    assert.ok(back.subarray(1).equals(big.subarray(5)));
    assert.deepEqual(readdirSync(dir), ["out.bin"]);
  });

  test("a write that fails midway keeps the old content and removes the temp file", () => {
    const dir = fresh();
    const path = join(dir, "keep.txt");
    writeFileSync(path, "old content");
    // The second chunk is not bytes: the write throws after the temp file has been created and written to.
    const chunks = [Buffer.from("new "), { byteLength: 4 } as unknown as Uint8Array];
    assert.throws(() => writeFileAtomic(path, chunks), { code: "ERR_INVALID_ARG_TYPE" });
    assert.equal(readFileSync(path, "utf8"), "old content");
    assert.deepEqual(readdirSync(dir), ["keep.txt"]);
  });

  test("a failing rename (target is a folder) removes the temp file", () => {
    const dir = fresh();
    const target = join(dir, "taken");
    mkdirSync(target);
    writeFileSync(join(target, "inside"), "x");
    assert.throws(() => writeFileAtomic(target, "data"), /EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    assert.deepEqual(readdirSync(dir), ["taken"]);
    assert.deepEqual(readdirSync(target), ["inside"]);
  });

  test("a missing folder is an error, not a silent success", () => {
    assert.throws(() => writeFileAtomic(join(fresh(), "no", "such.txt"), "x"), /ENOENT/);
  });
});

describe("JSON helpers", () => {
  test("writeJsonAtomic writes indented JSON ending in a newline", () => {
    const path = join(fresh(), "c.json");
    writeJsonAtomic(path, { a: [1, 2], b: "x" });
    assert.equal(readFileSync(path, "utf8"), '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "x"\n}\n');
    writeJsonAtomic(path, [1], 0);
    assert.equal(readFileSync(path, "utf8"), "[1]\n");
  });

  test("appendJsonLine adds one parseable line per call", () => {
    const path = join(fresh(), "metrics.jsonl");
    appendJsonLine(path, { step: 1, loss: 2.5 });
    appendJsonLine(path, { step: 2, loss: Number.NaN, note: "line\nbreak" });
    const lines = readFileSync(path, "utf8").split("\n");
    assert.equal(lines.length, 3);
    assert.equal(lines[2], "");
    assert.deepEqual(JSON.parse(lines[0]!), { step: 1, loss: 2.5 });
    assert.deepEqual(JSON.parse(lines[1]!), { step: 2, loss: null, note: "line\nbreak" });
  });
});
