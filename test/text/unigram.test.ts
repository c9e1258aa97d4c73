/**
 * The SentencePiece Unigram tokenizer (src/text/unigram.ts) against transformers.js's own tokenizer, which
 * loads the same tiny tokenizer.json offline (AutoTokenizer.from_pretrained on a local folder): ids for
 * tricky strings, padding and truncation as SigLIP uses them. Runs when `@huggingface/transformers` is
 * importable (a devDependency), and is skipped with the reason otherwise; the checks that need no peer
 * (Viterbi by hand, canonicalization, errors, saving) always run.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadTokenizer, siglipCanonicalize, tokenizerJson, UnigramTokenizer } from "../../src/text/index.js";
import { UserError } from "../../src/util/errors.js";
import { tmp } from "../export/fixtures.js";

const PACKAGE = "@huggingface/transformers";

interface Encoded {
  input_ids: { data: BigInt64Array; dims: number[] };
}
interface HfTokenizer {
  (texts: string[], opts: { padding: string; truncation: boolean; max_length: number }): Encoded;
  encode(text: string): number[];
}
interface TransformersJs {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  AutoTokenizer: { from_pretrained(name: string): Promise<HfTokenizer> };
}

async function importTransformers(): Promise<{ lib?: TransformersJs; skip: string | false }> {
  try {
    return { lib: (await import(PACKAGE)) as TransformersJs, skip: false };
  } catch (e) {
    const reason = `skipped: ${PACKAGE} is not importable (${(e as Error).message.split("\n")[0]})`;
    console.log(reason);
    return { skip: reason };
  }
}
const { lib, skip } = await importTransformers();

/**
 * A vocabulary where Viterbi matters: "▁hello" is one piece but "▁hel" + "lo" scores higher; "▁un" +
 * "believ" + "able" beats the greedy longest match "▁unbeliev" + "a" + "b" + "l" + "e".
 */
const WORDS: [string, number][] = [
  ["<pad>", 0],
  ["</s>", 0],
  ["<unk>", 0],
  ["▁", -3],
  ["▁hello", -9],
  ["▁hel", -3],
  ["lo", -3],
  ["▁world", -4],
  ["▁un", -2],
  ["▁unbeliev", -6],
  ["believ", -3],
  ["able", -2],
  ["▁a", -2],
  ["▁photo", -4],
  ["▁of", -2],
  ["▁cat", -4],
  ["s", -3],
  ["fi", -4],
  ["▁é", -5],
];
/** The words, then single characters and ▁-prefixed letters not already listed (each piece once). */
const PIECES: [string, number][] = [
  ...WORDS,
  ...[..."abcdefghijklmnopqrstuvwxyz0123456789"].map((c, i): [string, number] => [c, -8 - i / 100]),
  ...[..."abcdefghijklmnopqrstuvwxyz"].map((c, i): [string, number] => [`▁${c}`, -7 - i / 100]),
].filter(([p], i, all) => all.findIndex(([q]) => q === p) === i);

const PRECOMPILED = { type: "Precompiled", precompiled_charsmap: null };
const PUNCTUATION = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]";
const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** SigLIP's layout: specials, the canonicalization as normalizers, Metaspace, `$A </s>`, Unigram. */
function tokenizerFile(
  extra: { normalizers?: object[]; byteFallback?: boolean; pieces?: [string, number][] } = {},
) {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<pad>"), special(1, "</s>"), special(2, "<unk>")],
    normalizer: {
      type: "Sequence",
      normalizers: extra.normalizers ?? [
        { type: "Lowercase" },
        { type: "Replace", pattern: { Regex: PUNCTUATION }, content: "" },
        { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
        { type: "Strip", strip_left: true, strip_right: true },
        PRECOMPILED,
      ],
    },
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
      pair: [
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
        { Sequence: { id: "B", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
      ],
      special_tokens: { "</s>": { id: "</s>", ids: [1], tokens: ["</s>"] } },
    },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    model: {
      type: "Unigram",
      unk_id: 2,
      vocab: extra.pieces ?? PIECES,
      byte_fallback: extra.byteFallback ?? false,
    },
  };
}

/** A folder with tokenizer.json and SiglipTokenizer's tokenizer_config.json. */
function folder(file: object, config: object = {}): string {
  const dir = join(tmp(), "siglip-tokenizer");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(file));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({
      tokenizer_class: "SiglipTokenizer",
      model_max_length: 16,
      eos_token: "</s>",
      pad_token: "</s>",
      unk_token: "<unk>",
      ...config,
    }),
  );
  return dir;
}

const TRICKY = [
  "hello world",
  "Hello, World!",
  "  hello \t\n  world  ",
  "HELLO",
  "unbelievable",
  "a photo of a cat.",
  "cats",
  "hello</s>world",
  "</s>",
  "",
  "   ",
  "!!!",
  "ﬁ", // NFKC: "fi"
  "ＡＢＣ full width", // NFKC after lower-casing
  "é café", // é a piece after ▁, unknown inside a word
  "日本語", // three unknown characters fuse into one <unk>
  "x🍎y 🍎🍎", // astral characters count as one character each
  "it's a dog's life",
  "tabs\tand\u00a0nbsp",
  "hello hello hello hello hello hello hello hello hello hello hello", // longer than the context
];

const pieceIds = (pieces: string[]) => pieces.map((p) => PIECES.findIndex(([q]) => q === p));

describe("Unigram tokenizer (SigLIP's): Viterbi and canonicalization by hand", () => {
  const tok = loadTokenizer(folder(tokenizerFile())) as UnigramTokenizer;

  it("best total score, not greedy: ▁hel+lo over ▁hello, ▁un+believ+able over ▁unbeliev+…", () => {
    assert.ok(tok instanceof UnigramTokenizer);
    assert.deepEqual(tok.encode("hello"), pieceIds(["▁hel", "lo"]));
    assert.deepEqual(tok.encode("unbelievable"), pieceIds(["▁un", "believ", "able"]));
    assert.deepEqual(tok.encode("日本語"), pieceIds(["▁", "<unk>"]), "adjacent unknowns fuse into one <unk>");
  });

  it("SigLIP's padding: ids, </s>, then </s> (the pad token) to the context; truncation keeps </s>", () => {
    const [hel, lo] = pieceIds(["▁hel", "lo"]) as [number, number];
    assert.deepEqual(Array.from(tok.encodeBatch(["hello"], 6)), [hel, lo, 1, 1, 1, 1]);
    assert.deepEqual(Array.from(tok.encodeBatch(["hello hello hello"], 4)), [hel, lo, hel, 1]);
    assert.equal(tok.decode(tok.encode("Hello, World!")), "hello world");
  });

  it("canonicalization is SiglipTokenizer's: lower-case, ASCII punctuation out, white space collapsed", () => {
    assert.equal(siglipCanonicalize("  A photo,\tof  a CAT!\u001f"), "a photo of a cat");
    assert.equal(siglipCanonicalize("l'été—déjà"), "lété—déjà", "only ASCII punctuation goes");
    // A tokenizer.json without those normalizers gets them from tokenizer_config.json's class.
    const bare = loadTokenizer(folder(tokenizerFile({ normalizers: [PRECOMPILED] }))) as UnigramTokenizer;
    assert.ok(bare.canonicalize);
    for (const text of TRICKY) assert.deepEqual(bare.encode(text), tok.encode(text), text);
  });

  it("saved tokenizer.json carries the canonicalization and padding, and reads back the same", () => {
    const bare = loadTokenizer(folder(tokenizerFile({ normalizers: [PRECOMPILED] }))) as UnigramTokenizer;
    const path = join(tmp(), "tokenizer.json");
    writeFileSync(path, tokenizerJson(bare));
    const back = loadTokenizer(path) as UnigramTokenizer;
    assert.ok(!back.canonicalize, "nothing beside it: the normalizers written in the file do the work");
    for (const text of TRICKY)
      assert.deepEqual(back.encodeBatch([text], 16), bare.encodeBatch([text], 16), text);
  });

  it("byte_fallback spells unknown characters as their UTF-8 bytes' <0xNN> pieces", () => {
    const bytes = Array.from({ length: 256 }, (_, b): [string, number] => [
      `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`,
      -20,
    ]);
    const t = loadTokenizer(folder(tokenizerFile({ byteFallback: true, pieces: [...PIECES, ...bytes] })));
    const at = (b: number) => PIECES.length + b;
    assert.deepEqual(t.encode("é日"), [...pieceIds(["▁é"]), at(0xe6), at(0x97), at(0xa5)]);
    assert.equal(t.decode(t.encode("é日")), "é日");
  });

  it("a bad file is one error naming the field", () => {
    const bad = (file: object, pattern: RegExp) =>
      assert.throws(
        () => loadTokenizer(folder(file)),
        (e: unknown) => e instanceof UserError && pattern.test(e.message),
      );
    bad(
      { ...tokenizerFile(), model: { type: "Unigram", unk_id: 2, vocab: [["a", "x"]] } },
      /model\.vocab\[0\]/,
    );
    bad({ ...tokenizerFile(), model: { type: "Unigram", unk_id: 99, vocab: PIECES } }, /model\.unk_id/);
    bad({ ...tokenizerFile(), normalizer: { type: "BertNormalizer" } }, /normalizer\.type.*BertNormalizer/);
    bad({ ...tokenizerFile(), pre_tokenizer: { type: "ByteLevel" } }, /pre_tokenizer\.type.*Metaspace/);
    bad(
      { ...tokenizerFile(), normalizer: { type: "Replace", pattern: { Regex: "(" }, content: "" } },
      /normalizer\.pattern.*regular expression/,
    );
    assert.throws(
      () => loadTokenizer(folder(tokenizerFile(), { pad_token: "<nope>" })),
      /padding token '<nope>' is not in the vocabulary/,
    );
  });
});

/** A protobuf ModelProto for `pieces` (the fields sentencepiece.ts reads), types from SigLIP's layout. */
function spieceModel(pieces: readonly [string, number][]): Uint8Array {
  const bytes: number[] = [];
  const varint = (out: number[], v: number) => {
    for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v % 128) | 0x80);
    out.push(v);
  };
  const field = (out: number[], n: number, body: number[]) => {
    varint(out, n * 8 + 2);
    varint(out, body.length);
    out.push(...body);
  };
  for (const [i, [piece, score]] of pieces.entries()) {
    const p: number[] = [];
    field(p, 1, [...new TextEncoder().encode(piece)]);
    p.push(2 * 8 + 5, ...new Uint8Array(Float32Array.of(score).buffer));
    p.push(3 * 8, i === 2 ? 2 : i < 2 ? 3 : 1); // <unk> UNKNOWN, <pad> and </s> CONTROL
    field(bytes, 1, p);
  }
  const trainer: number[] = [3 * 8, 1]; // model_type UNIGRAM
  varint(trainer, 40 * 8);
  trainer.push(2); // unk_id
  varint(trainer, 42 * 8);
  trainer.push(1); // eos_id
  field(bytes, 2, trainer);
  field(bytes, 3, [3 * 8, 1, 4 * 8, 1]); // add_dummy_prefix, remove_extra_whitespaces
  return Uint8Array.from(bytes);
}

describe("SentencePiece's spiece.model (Google's SigLIP repositories ship it instead of tokenizer.json)", () => {
  it("reads as the same Unigram tokenizer as the tokenizer.json Hugging Face converts it to", () => {
    const dir = folder(tokenizerFile());
    const json = loadTokenizer(dir) as UnigramTokenizer;
    rmSync(join(dir, "tokenizer.json"));
    writeFileSync(join(dir, "spiece.model"), spieceModel(PIECES));
    const spm = loadTokenizer(dir);
    assert.ok(spm instanceof UnigramTokenizer && spm.canonicalize);
    assert.equal(spm.vocabSize, PIECES.length);
    for (const text of TRICKY)
      assert.deepEqual(spm.encodeBatch([text], 16), json.encodeBatch([text], 16), text);
    writeFileSync(join(dir, "spiece.model"), spieceModel(PIECES).subarray(0, 50));
    assert.throws(
      () => loadTokenizer(dir),
      (e: unknown) => e instanceof UserError && /cut short or damaged/.test(e.message),
    );
  });
});

describe("Unigram tokenizer against transformers.js (same tokenizer.json, offline)", { skip }, () => {
  it("ids of tricky strings, and padding/truncation to max_length, are transformers.js's", async () => {
    const t = lib as TransformersJs;
    const dir = folder(tokenizerFile());
    const tok = loadTokenizer(dir) as UnigramTokenizer;
    t.env.allowRemoteModels = false;
    t.env.allowLocalModels = true;
    t.env.localModelPath = join(dir, "..");
    const hf = await t.AutoTokenizer.from_pretrained("siglip-tokenizer");
    for (const text of TRICKY)
      assert.deepEqual([...tok.encode(text), 1], hf.encode(text), JSON.stringify(text));
    const batch = hf(TRICKY, { padding: "max_length", truncation: true, max_length: 16 });
    assert.deepEqual(batch.input_ids.dims, [TRICKY.length, 16]);
    const want = Array.from(batch.input_ids.data, Number);
    const got = Array.from(tok.encodeBatch(TRICKY, 16));
    // One difference, on purpose: a text longer than the context keeps its </s> last ("sticky" EOS, as
    // big_vision trained SigLIP and Hugging Face's Rust tokenizers truncate); transformers.js cuts it off.
    const long = TRICKY.length - 1;
    assert.equal(got[long * 16 + 15], 1);
    assert.notEqual(want[long * 16 + 15], 1);
    want[long * 16 + 15] = 1;
    assert.deepEqual(got, want);
  });
});
