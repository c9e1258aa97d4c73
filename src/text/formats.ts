/**
 * Tokenizer files: CLIP's own merges file (`bpe_simple_vocab_16e6.txt.gz`), Hugging Face's `vocab.json` +
 * `merges.txt` and `tokenizer.json` (read), and `tokenizer.json` (written: Juxta's own format, laid out as
 * Hugging Face's CLIPTokenizerFast files are, so that Hugging Face tokenizers and transformers.js read it).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { inputError, type Location, UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fs.js";
import { BYTE_ORDER, BYTE_TO_CHAR } from "./bytes.js";
import { sentencePieceToJson } from "./sentencepiece.js";
import { END_TOKEN, PAIR_STRIDE, type SpecOrigin, START_TOKEN, Tokenizer, WORD_END } from "./tokenizer.js";
import { UnigramTokenizer } from "./unigram.js";

/** Any tokenizer Juxta reads: its own byte-level BPE (CLIP's), or a SentencePiece Unigram (SigLIP's). */
export type TextTokenizer = Tokenizer | UnigramTokenizer;

/** What tokenizer_config.json beside a tokenizer.json adds to it (Unigram files). */
export interface TokenizerConfig {
  /** tokenizer_class "SiglipTokenizer": canonicalize texts as SiglipTokenizer does. */
  canonicalize?: boolean;
  /** The padding token (tokenizer_config.json's pad_token). */
  padToken?: string;
}

type Merges = [string, string][];

/** OpenAI keeps this many merges of its file: 49,152 tokens less 256 bytes less 2 specials. */
export const CLIP_MERGES = 49152 - 256 - 2;

/** A file's bytes, or a UserError saying it is missing. */
function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`${file}: no such file`);
    if (code === "EISDIR") throw new UserError(`${file}: is a folder, expected a file`);
    throw e;
  }
}

/** UTF-8 text of a file's bytes; invalid UTF-8 is a UserError naming the first bad line. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  const strict = new TextDecoder("utf-8", { fatal: true });
  try {
    return strict.decode(bytes);
  } catch {
    // No multi-byte sequence contains a newline byte, so some line is bad on its own.
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      try {
        strict.decode(bytes.subarray(start, end < 0 ? bytes.length : end));
      } catch {
        throw inputError({ file, line }, "expected UTF-8 text, found bytes that are not UTF-8");
      }
      if (end < 0) throw new Error(`${file}: invalid UTF-8 that no single line shows`);
      start = end + 1;
    }
  }
}

/** A text file read as UTF-8, with the errors above. */
export function readText(file: string): string {
  return decodeUtf8(readBytes(file), file);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    const line = at ? text.slice(0, Number(at[1])).split("\n").length : undefined;
    throw inputError({ file, line }, `expected JSON (${message.replace(/\s+/g, " ")})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const shorten = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s);

/** One `left right` merge line. */
function parseMerge(text: string, loc: Location): [string, string] {
  const parts = text.split(" ");
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw inputError(
      loc,
      `expected a merge: two tokens separated by one space (e.g. 'i n'), got '${shorten(text)}'`,
    );
  return [parts[0], parts[1]];
}

/** OpenAI's vocabulary for a merge list: bytes, bytes with `</w>`, one token per merge, then the specials. */
export function clipVocab(merges: readonly (readonly [string, string])[]): string[] {
  const bytes = BYTE_ORDER.map((b) => BYTE_TO_CHAR[b] as string);
  return [
    ...bytes,
    ...bytes.map((c) => c + WORD_END),
    ...merges.map(([a, b]) => a + b),
    START_TOKEN,
    END_TOKEN,
  ];
}

const BPE_GZ_MAX_BYTES = 64 << 20;

/** CLIP's `bpe_simple_vocab_16e6.txt.gz`: gzip'd merges after a header line; OpenAI uses the first 48,894. */
export function loadClipBpe(path: string): Tokenizer {
  let text: string;
  try {
    // The real file inflates to 1.3 MB; the cap stops a gzip bomb before it fills memory.
    text = decodeUtf8(gunzipSync(readBytes(path), { maxOutputLength: BPE_GZ_MAX_BYTES }), path);
  } catch (e) {
    if (e instanceof UserError) throw e;
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
      throw inputError(
        { file: path },
        `inflates past ${BPE_GZ_MAX_BYTES} bytes; refused (not CLIP's vocabulary)`,
      );
    throw inputError({ file: path }, "expected a gzip file (CLIP's bpe_simple_vocab_16e6.txt.gz)");
  }
  const lines = text.split("\n");
  if (lines.length - 1 < CLIP_MERGES)
    throw inputError(
      { file: path, line: lines.length },
      `expected ${CLIP_MERGES} merge lines after the header line, found ${lines.length - 1}`,
    );
  const line = (i: number) => ({ file: path, line: i + 2 });
  const merges = lines.slice(1, CLIP_MERGES + 1).map((l, i) => parseMerge(l, line(i)));
  return new Tokenizer({ vocab: clipVocab(merges), merges }, { file: path, merge: line });
}

/** Token → id object into tokens by id (possibly with gaps; see `dense`). */
function vocabFrom(value: unknown, file: string, field: string): string[] {
  if (!isObject(value)) throw inputError({ file, field }, "expected an object mapping each token to its id");
  const vocab: string[] = [];
  for (const [token, id] of Object.entries(value)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= PAIR_STRIDE)
      throw inputError(
        { file, field: `${field}.${token}` },
        `expected an id from 0 to ${PAIR_STRIDE - 1}, got ${JSON.stringify(id)}`,
      );
    if (vocab[id] !== undefined)
      throw inputError(
        { file, field: `${field}.${token}` },
        `expected unique ids; ${id} is also '${vocab[id]}'`,
      );
    vocab[id] = token;
  }
  return vocab;
}

function dense(vocab: string[], file: string): string[] {
  for (let id = 0; id < vocab.length; id++)
    if (vocab[id] === undefined)
      throw inputError({ file }, `expected ids from 0 without gaps; no token has id ${id}`);
  return vocab;
}

function parseMergesTxt(path: string): { merges: Merges; origin: SpecOrigin } {
  const lines = readText(path).split("\n");
  const merges: Merges = [];
  const lineOf: number[] = [];
  lines.forEach((raw, i) => {
    const text = raw.replace(/\r$/, "");
    if (text === "" || (i === 0 && text.startsWith("#version"))) return;
    merges.push(parseMerge(text, { file: path, line: i + 1 }));
    lineOf.push(i + 1);
  });
  return { merges, origin: { file: path, merge: (i) => ({ file: path, line: lineOf[i] }) } };
}

/** Hugging Face's `vocab.json` (token → id, specials included) and `merges.txt` (`#version` header optional). */
export function loadVocabMerges(vocabPath: string, mergesPath: string): Tokenizer {
  const vocab = dense(vocabFrom(parseJson(readText(vocabPath), vocabPath), vocabPath, "vocab"), vocabPath);
  const { merges, origin } = parseMergesTxt(mergesPath);
  // Vocabulary problems belong to vocab.json, merge problems to their line of merges.txt.
  return new Tokenizer({ vocab, merges }, { file: vocabPath, merge: origin.merge });
}

function tokenizerFromJson(root: unknown, file: string, config: TokenizerConfig = {}): TextTokenizer {
  if (!isObject(root) || !isObject(root.model))
    throw inputError({ file, field: "model" }, "expected a Hugging Face tokenizer.json with a model");
  const model = root.model;
  if (model.type === "Unigram") return new UnigramTokenizer(root, file, config.canonicalize, config.padToken);
  if (model.type !== "BPE")
    throw inputError(
      { file, field: "model.type" },
      `expected "BPE" or "Unigram", got ${JSON.stringify(model.type)}`,
    );
  if (model.end_of_word_suffix !== WORD_END)
    throw inputError(
      { file, field: "model.end_of_word_suffix" },
      `expected "${WORD_END}" (a CLIP-style byte-level BPE), got ${JSON.stringify(model.end_of_word_suffix)}`,
    );
  if (model.continuing_subword_prefix)
    throw inputError(
      { file, field: "model.continuing_subword_prefix" },
      "expected none (a CLIP-style byte-level BPE)",
    );
  const vocab = vocabFrom(model.vocab, file, "model.vocab");
  const added = root.added_tokens ?? [];
  if (!Array.isArray(added)) throw inputError({ file, field: "added_tokens" }, "expected a list");
  added.forEach((t: unknown, i) => {
    const field = `added_tokens[${i}]`;
    if (!isObject(t) || typeof t.content !== "string" || !Number.isInteger(t.id) || (t.id as number) < 0)
      throw inputError({ file, field }, "expected an object with a string 'content' and an integer 'id'");
    const id = t.id as number;
    if (vocab[id] !== undefined && vocab[id] !== t.content)
      throw inputError({ file, field }, `id ${id} is '${vocab[id]}' in model.vocab, not '${t.content}'`);
    vocab[id] = t.content;
  });
  if (!Array.isArray(model.merges)) throw inputError({ file, field: "model.merges" }, "expected a list");
  const merges = model.merges.map((m: unknown, i): [string, string] => {
    const field = `model.merges[${i}]`;
    if (typeof m === "string") return parseMerge(m, { file, field });
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string")
      return [m[0], m[1]];
    throw inputError(
      { file, field },
      `expected "left right" or ["left", "right"], got ${shorten(JSON.stringify(m))}`,
    );
  });
  // CLIP files name their specials in the post-processor; others get CLIP's names.
  const post = isObject(root.post_processor) ? root.post_processor : {};
  const name = (pair: unknown) => (Array.isArray(pair) && typeof pair[0] === "string" ? pair[0] : undefined);
  return new Tokenizer(
    { vocab: dense(vocab, file), merges, startToken: name(post.cls), endToken: name(post.sep) },
    { file, merge: (i) => ({ file, field: `model.merges[${i}]` }) },
  );
}

/**
 * A Hugging Face `tokenizer.json`: a BPE model using `</w>` word ends (as CLIP's are), or a Unigram model
 * (SigLIP's), which also reads tokenizer_config.json beside it (see `tokenizerConfigBeside`).
 */
export function loadTokenizerJson(path: string): TextTokenizer {
  return tokenizerFromJson(parseJson(readText(path), path), path, tokenizerConfigBeside(path));
}

/**
 * SentencePiece's own model file (`spiece.model`, as Google's SigLIP repositories ship it), read as the
 * equivalent Unigram tokenizer.json, with tokenizer_config.json beside it.
 */
export function loadSentencePiece(path: string): UnigramTokenizer {
  const config = tokenizerConfigBeside(path);
  return new UnigramTokenizer(
    sentencePieceToJson(readBytes(path), path),
    path,
    config.canonicalize,
    config.padToken,
  );
}

/** tokenizer_config.json next to a tokenizer file, where present: SiglipTokenizer's class and pad token. */
export function tokenizerConfigBeside(path: string): TokenizerConfig {
  const file = join(dirname(path), "tokenizer_config.json");
  if (!existsSync(file)) return {};
  const json = parseJson(readText(file), file);
  if (!isObject(json)) throw inputError({ file }, "expected a JSON object");
  const pad = json.pad_token;
  const padToken =
    typeof pad === "string"
      ? pad
      : isObject(pad) && typeof pad.content === "string"
        ? pad.content
        : undefined;
  return { canonicalize: json.tokenizer_class === "SiglipTokenizer", ...(padToken ? { padToken } : {}) };
}

/**
 * `loadTokenizerJson` on the file's text rather than its path, so it needs no file system (a browser
 * fetches the text); `source` names it in error messages.
 */
export function parseTokenizerJson(
  text: string,
  source = "tokenizer.json",
  config: TokenizerConfig = {},
): TextTokenizer {
  return tokenizerFromJson(parseJson(text, source), source, config);
}

/**
 * A tokenizer from a file or a folder, by format: `tokenizer.json`; `vocab.json` with `merges.txt` beside
 * it; SentencePiece's `spiece.model`; or CLIP's gzip'd merges file. A folder is searched in that order.
 */
export function loadTokenizer(pathOrDir: string): TextTokenizer {
  if (!existsSync(pathOrDir)) throw new UserError(`${pathOrDir}: no such file or folder`);
  if (statSync(pathOrDir).isDirectory()) {
    const at = (name: string) => join(pathOrDir, name);
    if (existsSync(at("tokenizer.json"))) return loadTokenizerJson(at("tokenizer.json"));
    if (existsSync(at("vocab.json")) && existsSync(at("merges.txt")))
      return loadVocabMerges(at("vocab.json"), at("merges.txt"));
    if (existsSync(at("spiece.model"))) return loadSentencePiece(at("spiece.model"));
    if (existsSync(at("bpe_simple_vocab_16e6.txt.gz")))
      return loadClipBpe(at("bpe_simple_vocab_16e6.txt.gz"));
    throw new UserError(
      `${pathOrDir}: no tokenizer found; expected tokenizer.json, vocab.json with merges.txt, spiece.model or bpe_simple_vocab_16e6.txt.gz`,
    );
  }
  if (pathOrDir.endsWith(".gz")) return loadClipBpe(pathOrDir);
  if (pathOrDir.endsWith(".model")) return loadSentencePiece(pathOrDir);
  const beside = (name: string, what: string) => {
    const other = join(dirname(pathOrDir), name);
    if (!existsSync(other)) throw new UserError(`${pathOrDir}: ${what}, but ${other} is missing`);
    return other;
  };
  if (basename(pathOrDir) === "merges.txt")
    return loadVocabMerges(beside("vocab.json", "merges.txt needs vocab.json beside it"), pathOrDir);
  const root = parseJson(readText(pathOrDir), pathOrDir);
  if (basename(pathOrDir) === "tokenizer.json" || (isObject(root) && "model" in root))
    return tokenizerFromJson(root, pathOrDir, tokenizerConfigBeside(pathOrDir));
  if (isObject(root))
    return loadVocabMerges(pathOrDir, beside("merges.txt", "a vocab.json needs merges.txt beside it"));
  throw inputError(
    { file: pathOrDir },
    "expected tokenizer.json, vocab.json, merges.txt or a .gz merges file",
  );
}

/** The split regex as Hugging Face writes it (Rust regex syntax; `\s` etc. as in Python's pattern). */
const HF_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/**
 * Writes `tokenizer.json` in Hugging Face's layout for CLIPTokenizerFast: NFC + whitespace + lower-case
 * normalizer, CLIP's split then ByteLevel pre-tokenizer, RoBERTa-style post-processor adding start and end
 * tokens, ByteLevel decoder, and a BPE model with `</w>` word ends. (Hugging Face's pipeline does not
 * html-unescape or strip; Juxta's own loader applies CLIP's cleaning regardless of these sections.)
 */
export function saveTokenizerJson(tok: TextTokenizer, path: string): void {
  // Atomic: a checkpoint rewrites it, and a kill mid-write must not leave an empty tokenizer behind.
  writeFileAtomic(path, tokenizerJson(tok, path));
}

/** The text `saveTokenizerJson` writes (no file system: `parseTokenizerJson` reads it back). */
export function tokenizerJson(tok: TextTokenizer, target = "tokenizer.json"): string {
  if (tok instanceof UnigramTokenizer) return tok.toJson();
  const vocab: Record<string, number> = Object.create(null);
  tok.tokens.forEach((token, id) => {
    if (token in vocab) throw new UserError(`cannot write ${target}: token '${token}' has two ids`);
    vocab[token] = id;
  });
  // "a b" strings are what older readers know; pairs are needed only if a token has a space.
  const spaced = tok.merges.some(([a, b]) => a.includes(" ") || b.includes(" "));
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(tok.startId, tok.startToken), special(tok.endId, tok.endToken)],
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "NFC" },
        { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
        { type: "Lowercase" },
      ],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: HF_SPLIT }, behavior: "Removed", invert: true },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: "RobertaProcessing",
      sep: [tok.endToken, tok.endId],
      cls: [tok.startToken, tok.startId],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: tok.endToken,
      continuing_subword_prefix: "",
      end_of_word_suffix: WORD_END,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: tok.merges.map(([a, b]) => (spaced ? [a, b] : `${a} ${b}`)),
    },
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}
