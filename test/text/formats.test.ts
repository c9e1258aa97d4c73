/** Tokenizer files: hand-made vocab.json/merges.txt/tokenizer.json, save→load round trips, clear errors. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { BYTE_TO_CHAR } from "../../src/text/bytes.js";
import { clipVocab, loadClipBpe, loadTokenizer, saveTokenizerJson } from "../../src/text/formats.js";
import type { Tokenizer } from "../../src/text/tokenizer.js";
import { trainBpe } from "../../src/text/train.js";
import { UserError } from "../../src/util/errors.js";
import { needsShared, sharedData } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "juxta-"));
let n = 0;
const folder = () => {
  const d = join(tmp, `case${n++}`);
  mkdirSync(d);
  return d;
};

/** Four merges: "cat" and "dog" become one token each. Ids after the 512 byte symbols: ca 512, cat</w> 513,
 * do 514, dog</w> 515, <|startoftext|> 516, <|endoftext|> 517. */
const MERGES: [string, string][] = [
  ["c", "a"],
  ["ca", "t</w>"],
  ["d", "o"],
  ["do", "g</w>"],
];
// Byte ids in OpenAI's order: printable ASCII "!" is 0, so a letter's id is its code − 33, +256 with </w>.
const T = 116 - 33;
const S_END = 256 + 115 - 33;

function vocabJson(vocab: string[]): string {
  return JSON.stringify(Object.fromEntries(vocab.map((t, id) => [t, id])));
}

const userError = (pattern: RegExp) => (e: unknown) => e instanceof UserError && pattern.test(e.message);

describe("reading Hugging Face files", () => {
  test("vocab.json + merges.txt give the hand-checked ids", () => {
    const d = folder();
    writeFileSync(join(d, "vocab.json"), vocabJson(clipVocab(MERGES)));
    writeFileSync(join(d, "merges.txt"), `#version: 0.2\n${MERGES.map((m) => m.join(" ")).join("\n")}\n`);
    for (const path of [d, join(d, "vocab.json"), join(d, "merges.txt")]) {
      const tok = loadTokenizer(path) as Tokenizer;
      assert.equal(tok.vocabSize, 518);
      assert.deepEqual([tok.startId, tok.endId], [516, 517]);
      assert.deepEqual(tok.encode("Cat dog"), [513, 515]);
      // "cats": c+a merge, then (ca, t) has no rank: only (ca, t</w>) does.
      assert.deepEqual(tok.encode("cats"), [512, T, S_END]);
      assert.deepEqual(Array.from(tok.encodeBatch(["dog cat"], 6)), [516, 515, 513, 517, 0, 0]);
    }
  });

  test("ids come from the file, not from OpenAI's layout", () => {
    const d = folder();
    const vocab = clipVocab(MERGES).reverse(); // id ↦ 517 − id
    writeFileSync(join(d, "vocab.json"), vocabJson(vocab));
    writeFileSync(join(d, "merges.txt"), MERGES.map((m) => m.join(" ")).join("\n"));
    const tok = loadTokenizer(d) as Tokenizer;
    assert.deepEqual(tok.encode("cat dog cats"), [517 - 513, 517 - 515, 517 - 512, 517 - T, 517 - S_END]);
    assert.deepEqual([tok.startId, tok.endId], [1, 0]);
  });

  test("tokenizer.json with merges as strings or pairs, specials from added_tokens", () => {
    const vocab = clipVocab(MERGES).slice(0, 516); // specials only in added_tokens
    for (const merges of [MERGES.map((m) => m.join(" ")), MERGES]) {
      const d = folder();
      const json = {
        version: "1.0",
        added_tokens: [
          { id: 516, content: "<|startoftext|>", special: true },
          { id: 517, content: "<|endoftext|>", special: true },
        ],
        model: { type: "BPE", end_of_word_suffix: "</w>", vocab: JSON.parse(vocabJson(vocab)), merges },
      };
      writeFileSync(join(d, "tokenizer.json"), JSON.stringify(json));
      const tok = loadTokenizer(d) as Tokenizer;
      // "," is byte 44 → 11, with </w> 267; "!" is 0, with </w> 256.
      assert.deepEqual(tok.encode("dog, cat!"), [515, 267, 513, 256]);
      assert.deepEqual([tok.startId, tok.endId], [516, 517]);
    }
  });
});

describe("saving tokenizer.json", () => {
  test("a trained tokenizer round-trips: same vocabulary, merges and encodings", () => {
    const corpus = ["a red apple on a wooden table", "a green apple", "two red cars", "an apple a day"];
    const tok = trainBpe(corpus, { vocabSize: 540, minFrequency: 1 });
    const path = join(folder(), "tokenizer.json");
    saveTokenizerJson(tok, path);
    const back = loadTokenizer(path) as Tokenizer;
    assert.deepEqual(back.tokens, tok.tokens);
    assert.deepEqual(back.merges, tok.merges);
    for (const text of [...corpus, "Unseen WORDS, 123 & émoji 🍎"])
      assert.deepEqual(back.encode(text), tok.encode(text), text);
    const json = JSON.parse(readFileSync(path, "utf8"));
    assert.equal(json.model.type, "BPE");
    assert.equal(json.model.end_of_word_suffix, "</w>");
    assert.deepEqual(json.post_processor.cls, ["<|startoftext|>", tok.startId]);
    assert.deepEqual(json.post_processor.sep, ["<|endoftext|>", tok.endId]);
    assert.deepEqual(
      json.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id]),
      [
        ["<|startoftext|>", tok.startId],
        ["<|endoftext|>", tok.endId],
      ],
    );
    assert.equal(typeof json.model.merges[0], "string");
  });

  test("CLIP's tokenizer round-trips through tokenizer.json", { skip: needsShared("clip-bpe") }, () => {
    const clip = loadClipBpe(join(sharedData, "clip-bpe", "bpe_simple_vocab_16e6.txt.gz"));
    const path = join(folder(), "tokenizer.json");
    saveTokenizerJson(clip, path);
    const back = loadTokenizer(path);
    const texts = [
      "a photo of a cat",
      "It's 2026 and I'm 42 years old.",
      "supercalifragilisticexpialidocious",
    ];
    assert.deepEqual(back.encodeBatch(texts, 77), clip.encodeBatch(texts, 77));
    assert.equal(back.vocabSize, 49408);
  });
});

describe("bad files", () => {
  const bytes = (s: string) => Buffer.from(s, "utf8");

  test("not UTF-8: file and line named", () => {
    const d = folder();
    writeFileSync(join(d, "vocab.json"), vocabJson(clipVocab(MERGES)));
    writeFileSync(
      join(d, "merges.txt"),
      Buffer.concat([bytes("#version: 0.2\nc a\nd "), Buffer.from([0xff, 0xfe]), bytes("\n")]),
    );
    assert.throws(() => loadTokenizer(d), userError(/merges\.txt:3: expected UTF-8 text/));
  });

  test("a malformed merge line, and a merge of unknown tokens", () => {
    const d = folder();
    writeFileSync(join(d, "vocab.json"), vocabJson(clipVocab(MERGES)));
    writeFileSync(join(d, "merges.txt"), "#version: 0.2\nc a\nca t</w> x\n");
    assert.throws(() => loadTokenizer(d), userError(/merges\.txt:3: expected a merge: two tokens/));
    writeFileSync(join(d, "merges.txt"), "#version: 0.2\nc a\n\nca t\n");
    assert.throws(() => loadTokenizer(d), userError(/merges\.txt:4: merge 'ca t': the merged token 'cat'/));
  });

  test("vocab.json: invalid JSON, bad ids, missing byte symbols, missing specials", () => {
    const d = folder();
    writeFileSync(join(d, "merges.txt"), "");
    writeFileSync(join(d, "vocab.json"), '{\n  "a": 0,\n  "b": 1,\n}');
    assert.throws(() => loadTokenizer(d), userError(/vocab\.json:4: expected JSON/));
    writeFileSync(join(d, "vocab.json"), '{"a": 0, "b": "one"}');
    assert.throws(() => loadTokenizer(d), userError(/vocab\.json \(field 'vocab\.b'\): expected an id/));
    writeFileSync(join(d, "vocab.json"), '{"a": 0, "b": 2}');
    assert.throws(() => loadTokenizer(d), userError(/no token has id 1/));
    writeFileSync(join(d, "vocab.json"), vocabJson(clipVocab([]).filter((t) => t !== BYTE_TO_CHAR[0x20])));
    assert.throws(
      () => loadTokenizer(d),
      userError(/vocab\.json: expected a byte-level vocabulary.*byte 0x20/),
    );
    writeFileSync(join(d, "vocab.json"), vocabJson(clipVocab([]).slice(0, 512)));
    assert.throws(
      () => loadTokenizer(d),
      userError(/start token '<\|startoftext\|>' is not in the vocabulary/),
    );
  });

  test("tokenizer.json: other models and word-end styles are refused", () => {
    const path = join(folder(), "tokenizer.json");
    const model = { type: "BPE", end_of_word_suffix: "</w>", vocab: {}, merges: [] };
    writeFileSync(path, JSON.stringify({ model: { ...model, type: "WordPiece" } }));
    assert.throws(
      () => loadTokenizer(path),
      userError(/field 'model\.type'\): expected "BPE" or "Unigram", got "WordPiece"/),
    );
    writeFileSync(path, JSON.stringify({ model: { ...model, end_of_word_suffix: null } }));
    assert.throws(() => loadTokenizer(path), userError(/model\.end_of_word_suffix.*CLIP-style/));
    writeFileSync(path, JSON.stringify({ model: { ...model, merges: [["a"]] } }));
    assert.throws(() => loadTokenizer(path), userError(/model\.merges\[0\]/));
    writeFileSync(path, JSON.stringify({ version: "1.0" }));
    assert.throws(() => loadTokenizer(path), userError(/expected a Hugging Face tokenizer\.json/));
  });

  test("CLIP's merges file: not gzip, too short, bad line", () => {
    const path = join(folder(), "bpe.txt.gz");
    writeFileSync(path, "i n\n");
    assert.throws(() => loadClipBpe(path), userError(/bpe\.txt\.gz: expected a gzip file/));
    writeFileSync(path, gzipSync("header\ni n\n"));
    assert.throws(
      () => loadClipBpe(path),
      userError(/expected 48894 merge lines after the header line, found 2/),
    );
    const lines = ["header", ...Array.from({ length: 48894 }, () => "i n")];
    lines[10] = "i";
    writeFileSync(path, gzipSync(lines.join("\n")));
    assert.throws(() => loadClipBpe(path), userError(/bpe\.txt\.gz:11: expected a merge/));
  });

  test("missing paths and folders without a tokenizer", () => {
    assert.throws(() => loadTokenizer(join(tmp, "nope")), userError(/no such file or folder/));
    assert.throws(() => loadTokenizer(folder()), userError(/no tokenizer found/));
    const d = folder();
    writeFileSync(join(d, "vocab.json"), "{}");
    assert.throws(() => loadTokenizer(join(d, "vocab.json")), userError(/merges\.txt is missing/));
  });
});
