import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { before, describe, test } from "node:test";
import sharp from "sharp";
import {
  buildEmojiDataset,
  type EmojiDatasetStats,
  type EmojiRow,
  isHeldOut,
  normalizeCodepoint,
} from "../../src/data/emoji.js";
import { openDataset } from "../../src/data/open.js";
import { SkipLog } from "../../src/data/types.js";
import { tempDir } from "./fixtures.js";

function rows(file: string): EmojiRow[] {
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as EmojiRow);
}

describe("emoji quickstart data set", () => {
  let dir: string;
  let stats: EmojiDatasetStats;
  let train: EmojiRow[];
  let test_: EmojiRow[];
  before(async () => {
    dir = tempDir();
    stats = await buildEmojiDataset(dir); // the default: captions several
    train = rows(join(dir, "train.jsonl"));
    test_ = rows(join(dir, "test.jsonl"));
  });

  test("every emoji comes in both styles, skin tones excluded, rows match the stats", () => {
    assert.ok(stats.concepts > 1500, `only ${stats.concepts} emoji`);
    assert.equal(stats.trainRows, train.length);
    assert.equal(stats.testRows, test_.length);
    assert.equal(train.length + test_.length, 2 * stats.concepts);
    const styles = new Map<string, Set<string>>();
    for (const r of [...train, ...test_]) {
      if (!styles.has(r.emoji)) styles.set(r.emoji, new Set());
      styles.get(r.emoji)!.add(r.style);
    }
    assert.equal(styles.size, stats.concepts);
    for (const [emoji, s] of styles) assert.deepEqual([...s].sort(), ["google", "twitter"], emoji);
    assert.ok([...styles.keys()].every((e) => !/1F3F[B-F]/.test(e)));
    const grinning = train.filter((r) => r.emoji === "1F600");
    assert.equal(grinning.length, 2);
    for (const r of grinning) {
      assert.equal(r.label, "Smileys & Emotion");
      // Several training captions: the name-and-tags one first, the category and subcategory words among them.
      assert.ok(Array.isArray(r.text) && r.text.length >= 5, JSON.stringify(r.text));
      assert.match(r.text[0]!, /^grinning face(, [^,]+){3}$/);
      assert.ok(r.text.includes("a Smileys & Emotion emoji: grinning face"), JSON.stringify(r.text));
      assert.ok(r.text.includes("grinning face, a face smiling emoji"), JSON.stringify(r.text));
      assert.equal(new Set(r.text).size, r.text.length);
    }
    assert.notEqual(
      grinning[0]!.text[0],
      grinning[1]!.text[0],
      "styles of an emoji with many tags differ in caption",
    );
    // Test rows keep one caption each, so retrieval scores a fixed text per image.
    assert.ok(test_.every((r) => typeof r.text === "string"));
    assert.ok(train.some((r) => r.label === "Food & Drink"));
  });

  test("the held-out concepts are disjoint from training, about 10 %, chosen by the codepoint hash", () => {
    const trainSet = new Set(train.map((r) => r.emoji));
    const testSet = new Set(test_.map((r) => r.emoji));
    assert.ok([...testSet].every((e) => !trainSet.has(e)));
    const share = testSet.size / stats.concepts;
    assert.ok(share > 0.07 && share < 0.13, `held out ${share}`);
    assert.ok([...testSet].every((e) => isHeldOut(e, 0.1)));
    assert.ok([...trainSet].every((e) => !isHeldOut(e, 0.1)));
    assert.equal(normalizeCodepoint("0023-fe0f-20e3"), "0023-20E3");
    assert.equal(isHeldOut("0023-FE0F-20E3", 0.1), isHeldOut("0023-20E3", 0.1));
  });

  test("image paths exist (relative to the folder or absolute) and decode as 64×64 PNGs", async () => {
    for (const r of [...train, ...test_]) assert.ok(existsSync(resolve(dir, r.image)), r.image);
    const meta = await sharp(resolve(dir, test_[0]!.image)).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 64, 64]);
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    assert.match(readme, /Apache License 2\.0/);
    assert.match(readme, /Creative Commons Attribution 4\.0/);
  });

  test("deterministic: a second build writes the same files", async () => {
    const again = tempDir();
    const s2 = await buildEmojiDataset(again, { absolutePaths: true, captions: "several" });
    assert.deepEqual({ ...s2, trainFile: "", testFile: "" }, { ...stats, trainFile: "", testFile: "" });
    const abs = rows(join(again, "train.jsonl"));
    assert.deepEqual(
      abs.map((r) => ({ ...r, image: resolve(r.image) })),
      train.map((r) => ({ ...r, image: resolve(dir, r.image) })),
    );
  });

  test("captions one writes the single caption in training rows too; train.jsonl reads with its captions", async () => {
    const one = tempDir();
    await buildEmojiDataset(one, { captions: "one" });
    const single = rows(join(one, "train.jsonl"));
    assert.deepEqual(
      single.map((r) => r.text),
      train.map((r) => (r.text as string[])[0]),
    );
    assert.deepEqual(rows(join(one, "test.jsonl")), test_);
    const samples = await openDataset(dir, {}, new SkipLog(true));
    assert.equal(samples.length, train.length);
    assert.deepEqual(samples[0]!.captions, train[0]!.text);
    assert.equal(samples[0]!.text, (train[0]!.text as string[])[0]);
  });

  test("the folder opens as a data set (train.jsonl by default, test.jsonl with split)", async () => {
    const log = new SkipLog();
    const samples = await openDataset(dir, { split: "test" }, log);
    assert.equal(samples.length, test_.length);
    assert.equal(log.total, 0);
    assert.equal(samples[0]!.label, test_[0]!.label);
  });
});
