/** Training: hand-checked first merges, determinism, frequency floor, unseen text, captions input, the CLI. */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tokenizer as tokenizerCommand } from "../../src/cli/commands/tokenizer.js";
import { readCaptions } from "../../src/text/captions.js";
import { loadTokenizer } from "../../src/text/formats.js";
import type { Tokenizer } from "../../src/text/tokenizer.js";
import { trainBpe } from "../../src/text/train.js";
import { UserError } from "../../src/util/errors.js";
import { runCommand } from "../apps/fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "juxta-"));

// Word counts: low 5, lower 2, newest 6, widest 3 (Sennrich et al.'s example), with punctuation and case.
const CORPUS = [
  "Low low, low low low.",
  "lower LOWER",
  "newest newest newest newest newest newest",
  "widest widest widest <|endoftext|>",
];

describe("trainBpe", () => {
  test("merges the most frequent pairs first (hand-counted), ties to the lower ids", () => {
    const tok = trainBpe(CORPUS, { vocabSize: 512 + 5 + 2 });
    // (e,s) 9 and (s,t</w>) 9 tie: 'e' has the lower id. Then (es,t</w>) 9, (l,o) 7, and at 6 (e,w) before
    // (n,e) and (w,est</w>); then (n,ew) 6 before (ew,est</w>) 6.
    assert.deepEqual(tok.merges, [
      ["e", "s"],
      ["es", "t</w>"],
      ["l", "o"],
      ["e", "w"],
      ["n", "ew"],
    ]);
    assert.deepEqual(tok.tokens.slice(512), [
      "es",
      "est</w>",
      "lo",
      "ew",
      "new",
      "<|startoftext|>",
      "<|endoftext|>",
    ]);
    assert.deepEqual([tok.vocabSize, tok.startId, tok.endId], [519, 517, 518]);
    // Unseen words: "lowest" → lo w est</w>; "newest" → new est</w>.
    assert.deepEqual(tok.encode("lowest newest"), [514, "w".charCodeAt(0) - 33, 513, 516, 513]);
    assert.equal(tok.decode(tok.encode("Lowest, NEWEST zebras!")), "lowest , newest zebras !");
  });

  test("deterministic, whatever the order of the texts", () => {
    const a = trainBpe(CORPUS, { vocabSize: 600 });
    const b = trainBpe([...CORPUS].reverse(), { vocabSize: 600 });
    assert.deepEqual(a.merges, b.merges);
    assert.ok(a.vocabSize < 600, "stops when no pair is seen twice");
  });

  test("minFrequency stops early; bad sizes are refused", () => {
    const tok = trainBpe(CORPUS, { vocabSize: 600, minFrequency: 7 });
    assert.deepEqual(tok.merges, [
      ["e", "s"],
      ["es", "t</w>"],
      ["l", "o"],
    ]);
    assert.throws(() => trainBpe(CORPUS, { vocabSize: 513 }), UserError);
  });

  test("a larger corpus: progress reported, every text round-trips", () => {
    let seed = 1;
    const rnd = () => {
      seed = (Math.imul(seed, 48271) >>> 0) % 2147483647;
      return seed / 2147483647;
    };
    const letters = "etaoinshrdlucmfwypvbgkjqxz";
    const words = Array.from({ length: 3000 }, () =>
      Array.from({ length: 3 + Math.floor(rnd() * 6) }, () => letters[Math.floor(rnd() ** 2 * 26)]).join(""),
    );
    const texts = Array.from({ length: 4000 }, () =>
      Array.from({ length: 8 }, () => words[Math.floor(rnd() * words.length)]).join(" "),
    );
    const progress: [number, number][] = [];
    const tok = trainBpe(texts, {
      vocabSize: 2014,
      onProgress: (done, total) => progress.push([done, total]),
    });
    assert.equal(tok.vocabSize, 2014);
    assert.deepEqual(progress[0], [1000, 1500]);
    for (const text of texts.slice(0, 50)) assert.equal(tok.decode(tok.encode(text)), text);
    // Frequent words became single tokens.
    const common = texts
      .join(" ")
      .split(" ")
      .filter((w) => w === words[0]).length;
    assert.ok(common > 0);
    assert.ok(tok.encode(texts.slice(0, 200).join(" ")).length < texts.slice(0, 200).join(" ").length / 2);
  });
});

describe("captions and the CLI", () => {
  test("text lines and JSON lines", () => {
    const txt = join(tmp, "caps.txt");
    writeFileSync(txt, "a cat\r\n\n  \na dog\n");
    assert.deepEqual([...readCaptions(txt)], ["a cat", "a dog"]);
    const jsonl = join(tmp, "caps.jsonl");
    writeFileSync(jsonl, '{"text": "a cat", "caption": "one"}\n\n{"caption": "two"}\n');
    assert.deepEqual([...readCaptions(jsonl, "caption")], ["one", "two"]);
    assert.throws(
      () => [...readCaptions(jsonl)],
      /caps\.jsonl:3 \(field 'text'\): expected a string caption/,
    );
    writeFileSync(jsonl, '{"text": "a cat"}\nnot json\n');
    assert.throws(() => [...readCaptions(jsonl)], /caps\.jsonl:2: expected one JSON object per line/);
    writeFileSync(txt, Buffer.from([0x61, 0x0a, 0x62, 0x80, 0x0a]));
    assert.throws(() => [...readCaptions(txt)], /caps\.txt:2: expected UTF-8 text/);
  });

  test("juxta tokenizer train writes a tokenizer.json that loads", async (t) => {
    t.mock.method(console, "log", () => {});
    const data = join(tmp, "corpus.jsonl");
    writeFileSync(data, `${CORPUS.map((text) => JSON.stringify({ caption: text })).join("\n")}\n`);
    const out = join(tmp, "trained.json");
    await runCommand(tokenizerCommand, [
      "train",
      "--data",
      data,
      "--out",
      out,
      "--vocab-size",
      "519",
      "--field",
      "caption",
    ]);
    const tok = loadTokenizer(out) as Tokenizer;
    assert.deepEqual(tok.merges, trainBpe(CORPUS, { vocabSize: 519 }).merges);
    await assert.rejects(
      runCommand(tokenizerCommand, ["train", "--data", data, "--out", out, "--vocab-size", "100"]),
      /--vocab-size expects/,
    );
    await assert.rejects(runCommand(tokenizerCommand, ["fit"]), /expected 'train' or 'encode', got 'fit'/);
  });
});
