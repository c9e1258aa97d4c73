import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { parseCommand } from "../../src/cli/command.js";
import { data } from "../../src/cli/commands/data.js";
import {
  balancedSubset,
  FASHION_MNIST_DIR,
  fashionMnistInstalled,
  writeFashionMnist,
} from "../../src/data/fashion-mnist.js";
import { FASHION_MNIST_CLASSES } from "../../src/data/mnist.js";
import { openDataset } from "../../src/data/open.js";
import { SkipLog } from "../../src/data/types.js";
import { tempDir } from "./fixtures.js";

function idx(magic: number, dims: number[], body: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d);
  out.set(Array.from(body), 4 + 4 * dims.length);
  return out;
}

/** A Debian-style folder of `count` 2×2 images per split; image i's pixels are all i, its label i % 10. */
function fakeDebianFolder(count: number): string {
  const dir = join(tempDir(), "fashion-mnist");
  mkdirSync(dir);
  const labels = Array.from({ length: count }, (_, i) => i % 10);
  const pixels = Array.from({ length: count * 4 }, (_, p) => Math.floor(p / 4));
  for (const split of ["train", "t10k"]) {
    writeFileSync(join(dir, `${split}-images-idx3-ubyte.gz`), gzipSync(idx(2051, [count, 2, 2], pixels)));
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte.gz`), gzipSync(idx(2049, [count], labels)));
  }
  return dir;
}

const installed = fashionMnistInstalled();
const absent = installed
  ? false
  : `${FASHION_MNIST_DIR} is absent (install the Debian package dataset-fashion-mnist; CI does)`;

describe("Fashion-MNIST", () => {
  test("a folder named fashion reads with class words and a word template", async () => {
    const dir = fakeDebianFolder(12);
    const samples = await openDataset(dir, {}, new SkipLog());
    assert.deepEqual(
      samples.slice(0, 3).map((s) => [s.label, s.text]),
      [
        ["T-shirt/top", "a photo of a T-shirt/top."],
        ["Trouser", "a photo of a Trouser."],
        ["Pullover", "a photo of a Pullover."],
      ],
    );
    assert.equal(samples[9]!.label, "Ankle boot");
  });

  test("balancedSubset keeps the first of each class in file order", () => {
    const labels = Uint8Array.from([0, 0, 1, 0, 2, 1, 2, 2, 1]);
    assert.deepEqual(balancedSubset(labels, 3, 6), [0, 1, 2, 4, 5, 6]);
    assert.deepEqual(balancedSubset(labels, 3, 4), [0, 1, 2, 4]); // 4 = 2 + 1 + 1
    assert.deepEqual(balancedSubset(labels, 3, undefined).length, 9);
  });

  test("juxta data fashion-mnist writes a balanced slice with classes.txt that keeps its names", async () => {
    const from = fakeDebianFolder(40);
    const out = join(tempDir(), "slice"); // no "fashion" in the name: classes.txt carries the words
    const { values, positionals } = parseCommand(data, [
      "fashion-mnist",
      "--out",
      out,
      "--from",
      from,
      "--train",
      "20",
      "--test",
      "10",
      "--json",
    ]);
    const lines: string[] = [];
    const log = console.log;
    console.log = (s: string) => lines.push(s);
    try {
      await data.run(values, positionals);
    } finally {
      console.log = log;
    }
    const stats = JSON.parse(lines[0]!) as { trainImages: number; testImages: number };
    assert.deepEqual([stats.trainImages, stats.testImages], [20, 10]);
    assert.equal(readFileSync(join(out, "classes.txt"), "utf8"), `${FASHION_MNIST_CLASSES.join("\n")}\n`);
    const train = await openDataset(out, {}, new SkipLog());
    assert.equal(train.length, 20);
    // Two of each class: images 0..9 then 10..19 of the original, pixels intact.
    assert.deepEqual(
      train.map((s) => (s.image.kind === "raw" ? s.image.pixels[0] : -1)),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.equal(train[18]!.label, "Bag");
    const test = await openDataset(out, { split: "test" }, new SkipLog());
    assert.deepEqual(
      test.map((s) => s.label),
      FASHION_MNIST_CLASSES,
    );
    await assert.rejects(
      writeFashionMnist(out, { from: tempDir() }),
      /apt-get install dataset-fashion-mnist/,
    );
    await assert.rejects(
      writeFashionMnist(out, { from, train: 5 }),
      /train must be an integer of at least 10/,
    );
  });

  test("the Debian package: the test split reads as 10,000 named images, 1,000 a class", {
    skip: absent,
  }, async () => {
    const samples = await openDataset(FASHION_MNIST_DIR, { split: "test" }, new SkipLog(true));
    assert.equal(samples.length, 10_000);
    const counts = new Map<string, number>();
    for (const s of samples) counts.set(s.label!, (counts.get(s.label!) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), [...FASHION_MNIST_CLASSES].sort());
    assert.ok([...counts.values()].every((n) => n === 1000));
    // The first test image is an ankle boot (Zalando's README shows it), 28×28 grayscale.
    assert.equal(samples[0]!.text, "a photo of a Ankle boot.");
    const img = samples[0]!.image;
    assert.deepEqual(img.kind === "raw" && [img.width, img.height, img.channels], [28, 28, 1]);
    const out = tempDir();
    const stats = await writeFashionMnist(out, { train: 30, test: 10 });
    assert.deepEqual(Object.values(stats.trainPerClass), Array(10).fill(3));
    const slice = await openDataset(out, { split: "test" }, new SkipLog(true));
    assert.deepEqual(
      slice.map((s) => s.image.kind === "raw" && [...s.image.pixels]),
      samples
        .filter((s, i) => samples.findIndex((t) => t.label === s.label) === i)
        .map((s) => s.image.kind === "raw" && [...s.image.pixels]),
    );
  });
});
