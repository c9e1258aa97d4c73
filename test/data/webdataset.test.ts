import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import sharp from "sharp";
import { openDataset } from "../../src/data/open.js";
import { readTar } from "../../src/data/tar.js";
import { SkipLog } from "../../src/data/types.js";
import { expandBraces } from "../../src/data/webdataset.js";
import { UserError } from "../../src/util/errors.js";
import { png, tar, tempDir } from "./fixtures.js";

const dec = new TextDecoder();
const hasTar = (() => {
  try {
    execFileSync("tar", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe("tar reader", () => {
  test("reads ustar members, pax and GNU long names", () => {
    const long = `${"d".repeat(80)}/${"f".repeat(60)}.txt`;
    for (const gnu of [false, true]) {
      const members = readTar(
        tar(
          [
            ["a.txt", "hello"],
            [long, "long name"],
            ["dir/b.bin", new Uint8Array(600)],
          ],
          { gnu },
        ),
        "t.tar",
      );
      assert.deepEqual(
        members.map((m) => [m.name, m.data.length]),
        [
          ["a.txt", 5],
          [long, 9],
          ["dir/b.bin", 600],
        ],
      );
      assert.equal(dec.decode(members[1]!.data), "long name");
    }
  });

  test("archives written by GNU tar (gnu and pax formats) read the same", {
    skip: !hasTar && "no tar command",
  }, () => {
    const dir = tempDir();
    const deep = join("x".repeat(70), "y".repeat(70));
    mkdirSync(join(dir, "src", deep), { recursive: true });
    writeFileSync(join(dir, "src", deep, "sample.txt"), "deep");
    writeFileSync(join(dir, "src", "big.bin"), new Uint8Array(70_000).fill(7));
    for (const format of ["gnu", "pax", "ustar"]) {
      const out = join(dir, `${format}.tar`);
      execFileSync("tar", [`--format=${format}`, "-cf", out, "-C", join(dir, "src"), "big.bin", deep]);
      const files = readTar(readFileSync(out), out);
      assert.deepEqual(
        files.map((m) => [m.name, m.data.length]),
        [
          ["big.bin", 70_000],
          [`${deep}/sample.txt`, 4],
        ],
        format,
      );
      assert.ok(files[0]!.data.every((b) => b === 7));
    }
  });

  test("a bad checksum or a truncated archive is a UserError naming file and offset", () => {
    const good = tar([
      ["a.txt", "x".repeat(100)],
      ["b.txt", "y".repeat(2000)],
    ]);
    const corrupt = good.slice();
    corrupt[1024 + 3] ^= 0xff;
    assert.throws(
      () => readTar(corrupt, "shard.tar"),
      (e: Error) =>
        e instanceof UserError &&
        /^shard\.tar: corrupt tar archive at byte offset 1024: header checksum/.test(e.message),
    );
    assert.throws(
      () => readTar(good.subarray(0, 1024 + 512 + 700), "shard.tar"),
      /shard\.tar: truncated tar archive at byte offset 1024: a member needs 2000 bytes, 700 remain/,
    );
    assert.throws(
      () => readTar(good.subarray(0, 1024 + 100), "shard.tar"),
      /truncated tar archive at byte offset 1024/,
    );
    assert.throws(
      () => readTar(new TextEncoder().encode("not a tar ".repeat(60)), "x.tar"),
      /corrupt tar archive at byte offset 0/,
    );
  });
});

describe("WebDataset shards", () => {
  test("groups members by key; caption from txt or json, label from cls; bad samples skipped", async () => {
    const dir = tempDir();
    const image = await png(5, 3);
    const shard = join(dir, "shard-000.tar");
    writeFileSync(
      shard,
      tar([
        ["s/0001.jpg", image],
        ["s/0001.txt", " a red box \n"],
        ["s/0001.cls", "3"],
        ["s/0002.png", image],
        ["s/0002.json", JSON.stringify({ caption: "from json", other: 1 })],
        ["s/0003.webp", image],
        ["s/0003.cls", "cat"],
        ["s/0004.txt", "caption without image"],
        ["s/0005.jpg", image],
        ["s/0005.txt", "   "],
        ["s/0006.jpg", image],
        ["s/0006.json", "{broken"],
        ["s/0007.jpg", image],
        ["s/0007.seg.png", image],
        ["s/0007.txt", "multi-dot extension"],
        ["noextension", "x"],
      ]),
    );
    const log = new SkipLog();
    const samples = await openDataset(shard, {}, log);
    assert.deepEqual(
      samples.map((s) => [s.text, s.label, s.origin.line]),
      [
        ["a red box", "3", 1],
        ["from json", undefined, 2],
        ["a photo of a cat.", "cat", 3],
        ["multi-dot extension", undefined, 7],
      ],
    );
    const first = samples[0]!.image;
    assert.equal(first.kind, "bytes");
    if (first.kind === "bytes") {
      assert.equal(first.name, `${shard}:s/0001.jpg`);
      const meta = await sharp(first.bytes).metadata();
      assert.deepEqual([meta.width, meta.height], [5, 3]);
    }
    assert.deepEqual(
      log.examples.map((s) => [s.origin.line, s.reason.split(":")[0]]),
      [
        [undefined, "unrecognised member"],
        [4, "no image"],
        [5, "empty caption"],
        [6, "invalid JSON"],
      ],
    );
    assert.match(log.examples[1]!.reason, /key 's\/0004'/);
  });

  test("json textField, shard folders and brace patterns", async () => {
    const dir = tempDir();
    const image = await png();
    for (const i of [0, 1, 2])
      writeFileSync(
        join(dir, `part-00${i}.tar`),
        tar([
          [`k${i}.png`, image],
          [`k${i}.json`, JSON.stringify({ meta: { alt: `alt ${i}` } })],
        ]),
      );
    const opts = { textField: "meta.alt" };
    const all = await openDataset(dir, opts, new SkipLog());
    assert.deepEqual(
      all.map((s) => s.text),
      ["alt 0", "alt 1", "alt 2"],
    );
    const two = await openDataset(join(dir, "part-{001..002}.tar"), opts, new SkipLog());
    assert.deepEqual(
      two.map((s) => s.text),
      ["alt 1", "alt 2"],
    );
    await assert.rejects(
      openDataset(join(dir, "part-{001..004}.tar"), opts, new SkipLog()),
      /2 of 4 shards are missing/,
    );
    assert.deepEqual(expandBraces("a{08..10}b{1..2}"), [
      "a08b1",
      "a08b2",
      "a09b1",
      "a09b2",
      "a10b1",
      "a10b2",
    ]);
  });

  test("a truncated shard is a UserError naming the shard", async () => {
    const dir = tempDir();
    const file = join(dir, "bad.tar");
    const whole = tar([["a.jpg", await png()]]);
    writeFileSync(file, whole.subarray(0, 600));
    await assert.rejects(
      openDataset(file, {}, new SkipLog()),
      new RegExp(`^UserError: ${file}: truncated tar archive at byte offset 0`),
    );
  });
});
