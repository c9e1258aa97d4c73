/** CLIP's own tokenizer: the reference vectors, OpenCLIP-style batches and truncation, decoding, cleaning. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { clipClean, htmlUnescape, splitPattern } from "../../src/text/clean.js";
import { loadClipBpe } from "../../src/text/formats.js";
import type { Tokenizer } from "../../src/text/tokenizer.js";
import { needsShared, sharedData } from "../helpers.js";

const skip = needsShared("clip-bpe");
const dir = join(sharedData, "clip-bpe");
let clip: Tokenizer | undefined;
const tok = () => {
  clip ??= loadClipBpe(join(dir, "bpe_simple_vocab_16e6.txt.gz"));
  return clip;
};

describe("CLIP reference vectors", { skip }, () => {
  test("all 20 texts give the reference ids and context-77 rows", () => {
    const vectors = readFileSync(join(dir, "vectors.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { text: string; ids: number[]; context_77: number[] });
    assert.equal(vectors.length, 20);
    const rows = tok().encodeBatch(
      vectors.map((v) => v.text),
      77,
    );
    vectors.forEach((v, i) => {
      assert.deepEqual(tok().encode(v.text), v.ids, v.text);
      assert.deepEqual(Array.from(rows.subarray(i * 77, (i + 1) * 77)), v.context_77, v.text);
    });
  });

  test("vocabulary laid out as OpenAI's", () => {
    const t = tok();
    assert.equal(t.vocabSize, 49408);
    assert.equal(t.startId, 49406);
    assert.equal(t.endId, 49407);
    assert.equal(t.tokens[0], "!");
    assert.equal(t.tokens[256], "!</w>");
    assert.equal(t.tokens[512], "in");
    assert.deepEqual(t.merges[0], ["i", "n"]);
  });

  test("truncation keeps the end token in the last position", () => {
    const t = tok();
    const text = "one two three four five six";
    const ids = t.encode(text);
    assert.equal(ids.length, 6);
    assert.deepEqual(Array.from(t.encodeBatch([text], 5)), [t.startId, ids[0], ids[1], ids[2], t.endId]);
    // Exactly fitting: nothing cut, no padding.
    assert.deepEqual(Array.from(t.encodeBatch([text], 8)), [t.startId, ...ids, t.endId]);
    assert.deepEqual(Array.from(t.encodeBatch([text, ""], 3)), [
      t.startId,
      ids[0],
      t.endId,
      t.startId,
      t.endId,
      0,
    ]);
    assert.throws(() => t.encodeBatch([text], 0), /context length/);
  });

  test("special tokens in text, decoding, and a repeated word from the cache", () => {
    const t = tok();
    assert.deepEqual(t.encode("<|startoftext|>cat<|endoftext|>"), [t.startId, 2368, t.endId]);
    assert.equal(t.decode(t.encode("A Photo of a CAT!!")), "a photo of a cat !!");
    assert.equal(t.decode(t.encode("café 日本語 🍎")), "café 日本語 🍎");
    assert.deepEqual(t.encode("cat cat"), [2368, 2368]);
    assert.throws(() => t.decode([49408]), /outside the vocabulary/);
  });

  test("long runs merge like OpenAI's (lowest rank first, all occurrences left to right)", () => {
    const t = tok();
    const ids = t.encode("a".repeat(1000));
    assert.equal(t.decode(ids), "a".repeat(1000));
    assert.ok(ids.length < 200, `${ids.length} tokens`);
  });
});

describe("CLIP cleaning (as Python's html.unescape, str.strip, re \\s, str.lower)", () => {
  test("html references", () => {
    const cases: [string, string][] = [
      ["&amp;lt;", "&lt;"],
      ["&notit;", "\u00acit;"],
      ["&notin;", "\u2209"],
      ["&#x80;", "\u20ac"],
      ["&#0;", "\ufffd"],
      ["&#1;", ""],
      ["&#xD800;", "\ufffd"],
      ["&#1114112;", "\ufffd"],
      ["&ampx", "&x"],
      ["&Amp;", "&Amp;"],
      ["&lt&gt", "<>"],
      ["&#65", "A"],
      ["&#X41;x", "Ax"],
      ["a&b", "a&b"],
      ["&#xfffe;", ""],
      ["&copy2026", "\u00a92026"],
    ];
    for (const [input, expected] of cases) assert.equal(htmlUnescape(input), expected, input);
    assert.equal(clipClean("&amp;lt;b&amp;gt;"), "<b>");
  });

  test("whitespace, case and the split", () => {
    const split = (s: string) => clipClean(s).match(splitPattern(["<|startoftext|>", "<|endoftext|>"]));
    assert.equal(clipClean("  A\x1cB\u3000C\ufeffD  "), "a b c\ufeffd");
    assert.deepEqual(split("  A\x1cB\u3000C\ufeffD  "), ["a", "b", "c", "\ufeff", "d"]);
    assert.deepEqual(split("\u0130stanbul \u039f\u0394\u039f\u03a3"), [
      "i",
      "\u0307",
      "stanbul",
      "\u03bf\u03b4\u03bf\u03c2",
    ]);
    assert.deepEqual(split("I'M HERE, it's 10:30!!"), [
      "i",
      "'m",
      "here",
      ",",
      "it",
      "'s",
      "1",
      "0",
      ":",
      "3",
      "0",
      "!!",
    ]);
    assert.deepEqual(split("ab\u0345 x"), ["ab", "x"]);
    // NFC, as ftfy and Hugging Face's CLIP normalizer apply it: decomposed é spells like composed é.
    assert.equal(clipClean("Cafe\u0301"), "caf\u00e9");
  });
});
