import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { CIFAR10_CLASSES } from "../../src/data/cifar.js";
import { openDataset, streamDataset } from "../../src/data/open.js";
import { SkipLog } from "../../src/data/types.js";
import { UserError } from "../../src/util/errors.js";
import { tempDir } from "./fixtures.js";

/** A CIFAR record whose pixel (y, x) in channel c holds (c * 50 + y + x) & 255. */
function cifarRecord(label: number): Uint8Array {
  const r = new Uint8Array(3073);
  r[0] = label;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) r[1 + c * 1024 + y * 32 + x] = (c * 50 + y + x) & 255;
  return r;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

function idx(magic: number, dims: number[], body: number[]): Uint8Array {
  const head = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  head.setUint32(0, magic);
  for (const [i, d] of dims.entries()) head.setUint32(4 + 4 * i, d);
  return concat([new Uint8Array(head.buffer), Uint8Array.from(body)]);
}

describe("CIFAR-10 batches", () => {
  test("records become 32×32 HWC raw images with class names; out-of-range labels skipped", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "data_batch_1.bin"), concat([cifarRecord(0), cifarRecord(9), cifarRecord(12)]));
    writeFileSync(join(dir, "data_batch_2.bin"), cifarRecord(3));
    writeFileSync(join(dir, "test_batch.bin"), cifarRecord(5));
    const log = new SkipLog();
    const samples = await openDataset(dir, {}, log);
    assert.deepEqual(
      samples.map((s) => [s.label, s.text, s.origin.line]),
      [
        ["airplane", "a photo of a airplane.", 1],
        ["truck", "a photo of a truck.", 2],
        ["cat", "a photo of a cat.", 1],
      ],
    );
    assert.equal(samples[2]!.origin.file, join(dir, "data_batch_2.bin"));
    const img = samples[0]!.image;
    assert.equal(img.kind, "raw");
    if (img.kind === "raw") {
      assert.deepEqual([img.width, img.height, img.channels, img.pixels.length], [32, 32, 3, 3072]);
      for (const [y, x] of [
        [0, 0],
        [5, 7],
        [31, 31],
      ])
        for (let c = 0; c < 3; c++)
          assert.equal(img.pixels[(y! * 32 + x!) * 3 + c], (c * 50 + y! + x!) & 255);
    }
    assert.deepEqual(
      log.examples.map((s) => [s.origin.line, s.reason]),
      [[3, "label out of range: 12, there are 10 classes"]],
    );
    const test = await openDataset(dir, { split: "test" }, new SkipLog());
    assert.deepEqual(
      test.map((s) => s.label),
      [CIFAR10_CLASSES[5]],
    );
  });

  test("batches.meta.txt names the classes; a truncated batch is a UserError with the offset", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "batches.meta.txt"), "plane\ncar\n\n");
    const file = join(dir, "test_batch.bin");
    writeFileSync(file, concat([cifarRecord(1), cifarRecord(0)]));
    const samples = await openDataset(file, { template: "{label}!" }, new SkipLog());
    assert.deepEqual(
      samples.map((s) => s.text),
      ["car!", "plane!"],
    );
    writeFileSync(file, concat([cifarRecord(1), cifarRecord(0).subarray(0, 100)]));
    await assert.rejects(openDataset(file, {}, new SkipLog()), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /test_batch\.bin: truncated CIFAR-10 batch at byte offset 3073/);
      return true;
    });
  });
});

describe("CIFAR-10 streamed", () => {
  test("records read by offset across read chunks: the samples of the whole-file read, each its own pixels", async () => {
    const dir = tempDir();
    const file = join(dir, "data_batch_1.bin");
    // 1,003 records: past the stream's 1,000-record read, with an out-of-range label on each side of it.
    const labels = Array.from({ length: 1003 }, (_, i) => (i === 998 || i === 1001 ? 10 : i % 10));
    const bytes = new Uint8Array(1003 * 3073);
    labels.forEach((label, i) => {
      const r = cifarRecord(label);
      r[1] = i & 255; // record i's first red pixel says which record it is
      bytes.set(r, i * 3073);
    });
    writeFileSync(file, bytes);
    const log = new SkipLog();
    const streamed = [];
    for await (const s of streamDataset(file, {}, log)) streamed.push(s);
    assert.equal(streamed.length, 1001);
    assert.deepEqual(
      log.examples.map((s) => s.origin.line),
      [999, 1002],
    );
    const whole = await openDataset(file, {}, new SkipLog());
    assert.deepEqual(streamed, whole);
    for (const s of [streamed[0]!, streamed[999]!, streamed[1000]!]) {
      const img = s.image;
      assert.ok(img.kind === "raw" && img.pixels.length === 3072 && img.pixels.byteOffset === 0);
      assert.equal(img.pixels[0], (s.origin.line! - 1) & 255);
    }
  });
});

describe("MNIST IDX files", () => {
  const images = idx(2051, [3, 2, 2], [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
  const labels = idx(2049, [3], [7, 0, 11]);

  test("images and labels pair up into 1-channel raw images; gzip is read too", async () => {
    for (const gz of [false, true]) {
      const dir = tempDir();
      const suffix = gz ? ".gz" : "";
      const pack = (b: Uint8Array) => (gz ? gzipSync(b) : b);
      writeFileSync(join(dir, `train-images-idx3-ubyte${suffix}`), pack(images));
      writeFileSync(join(dir, `train-labels-idx1-ubyte${suffix}`), pack(labels));
      const log = new SkipLog();
      const samples = await openDataset(dir, {}, log);
      assert.deepEqual(
        samples.map((s) => [s.label, s.text, s.origin.line]),
        [
          ["7", "a photo of the number 7.", 1],
          ["0", "a photo of the number 0.", 2],
        ],
      );
      const img = samples[1]!.image;
      assert.deepEqual(img.kind === "raw" && [img.width, img.height, img.channels, [...img.pixels]], [
        2,
        2,
        1,
        [10, 11, 12, 13],
      ]);
      assert.equal(log.examples[0]!.reason, "label out of range: 11, there are 10 classes");
    }
  });

  test("sizes are checked against the file length; class names can be given", async () => {
    const dir = tempDir();
    const imgFile = join(dir, "t10k-images-idx3-ubyte");
    writeFileSync(imgFile, images);
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), labels);
    const named = await openDataset(imgFile, { classes: [..."abcdefghijkl"] }, new SkipLog());
    assert.deepEqual(
      named.map((s) => s.label),
      ["h", "a", "l"],
    );
    writeFileSync(imgFile, images.subarray(0, images.length - 1));
    await assert.rejects(
      openDataset(dir, { split: "test" }, new SkipLog()),
      /IDX size mismatch.*truncated at byte offset 27/,
    );
    writeFileSync(imgFile, idx(2049, [3, 2, 2], Array(12).fill(0)));
    await assert.rejects(
      openDataset(imgFile, {}, new SkipLog()),
      /not an IDX images file \(magic 2049, expected 2051\)/,
    );
    writeFileSync(imgFile, images);
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), idx(2049, [2], [1, 2]));
    await assert.rejects(openDataset(imgFile, {}, new SkipLog()), /has 2 labels but .* has 3 images/);
    await assert.rejects(
      openDataset(join(dir, "t10k-labels-idx1-ubyte"), {}, new SkipLog()),
      /give the images file/,
    );
  });
});
