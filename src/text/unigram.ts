/**
 * SentencePiece's Unigram tokenizer as Hugging Face's `tokenizer.json` describes it (SigLIP, T5, Gemma-like
 * vocabularies): added tokens split out of the raw text, the normalizers, the Metaspace pre-tokenizer (spaces
 * become `▁`, one prepended), then per word the segmentation of highest total log-probability (Viterbi over
 * a lattice of vocabulary pieces), and the post-processor's template (SigLIP's: `$A </s>`).
 *
 * Kudo, "Subword Regularization: Improving Neural Network Translation Models with Multiple Subword
 * Candidates", 2018. Like Hugging Face's tokenizers: a position no piece of one character covers is an
 * unknown node scored min(scores) − 10, adjacent unknowns fuse into one `<unk>`, and with `byte_fallback`
 * an unknown becomes its UTF-8 bytes' `<0xNN>` pieces.
 *
 * SigLIP's own tokenizer (transformers' SiglipTokenizer) also canonicalizes every text first, as
 * big_vision's prompt engineering does: lower-case, ASCII punctuation removed, runs of white space to one
 * space, trimmed. `canonicalize` turns that on (set from tokenizer_config.json's tokenizer_class).
 */
import { inputError, type Location, UserError } from "../util/errors.js";

type Json = Record<string, unknown>;

/** One step of the normalizer pipeline (tokenizer.json's `normalizer`). */
type Normalize = (text: string) => string;

interface AddedToken {
  content: string;
  id: number;
  lstrip: boolean;
  rstrip: boolean;
}

interface Metaspace {
  replacement: string;
  prepend: "always" | "first" | "never";
  split: boolean;
}

/** Python's str.isspace set, which SiglipTokenizer's `re.sub(r"\s+", " ")` and strip() use. */
const PY_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_SPACES = new RegExp(`[${PY_SPACE}]+`, "gu");
const PY_TRIM = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "gu");
/** Python's string.punctuation. */
const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/** SiglipTokenizer's text canonicalization (lower-case, then big_vision's `canonicalize_text`). */
export function siglipCanonicalize(text: string): string {
  return text.toLowerCase().replace(ASCII_PUNCTUATION, "").replace(PY_SPACES, " ").replace(PY_TRIM, "");
}

const utf8 = new TextEncoder();
const CACHE_LIMIT = 100_000;

export class UnigramTokenizer {
  readonly vocabSize: number;
  /** The end token the template appends (SigLIP's `</s>`), if any. */
  readonly endId?: number;
  readonly padId: number;
  private readonly pieces: readonly string[];
  private readonly scores: Float64Array;
  private readonly ids = new Map<string, number>();
  private readonly maxPieceLength: number;
  private readonly unkScore: number;
  private readonly byteIds?: Int32Array;
  private readonly added: AddedToken[];
  private readonly normalizers: Normalize[];
  private readonly prefix: number[];
  private readonly suffix: number[];
  private readonly unkId?: number;
  private readonly metaspace?: Metaspace;
  /** Segmentations of words seen (captions repeat words); starts over when full. */
  private readonly cache = new Map<string, number[]>();

  /**
   * `root` is a parsed tokenizer.json whose model is Unigram; `source` names it in errors. `canonicalize`
   * applies SiglipTokenizer's canonicalization before the file's own normalizers; `padToken` (from
   * tokenizer_config.json) overrides the file's padding token.
   */
  constructor(
    private readonly root: Json,
    readonly source: string,
    readonly canonicalize = false,
    padToken?: string,
  ) {
    const at = (field: string): Location => ({ file: source, field });
    const model = root.model as Json;
    if (!Array.isArray(model.vocab) || model.vocab.length === 0)
      throw inputError(at("model.vocab"), "expected a list of [piece, score] pairs");
    const pieces: string[] = [];
    this.scores = new Float64Array(model.vocab.length);
    model.vocab.forEach((entry: unknown, id) => {
      if (
        !Array.isArray(entry) ||
        typeof entry[0] !== "string" ||
        typeof entry[1] !== "number" ||
        !Number.isFinite(entry[1])
      )
        throw inputError(at(`model.vocab[${id}]`), "expected [piece, score] (a string and a finite number)");
      pieces.push(entry[0]);
      this.scores[id] = entry[1];
      if (!this.ids.has(entry[0])) this.ids.set(entry[0], id);
    });
    this.pieces = pieces;
    this.vocabSize = pieces.length;
    // A loop, not Math.max(...): multilingual vocabularies (250k pieces) overflow an argument list.
    let longest = 1;
    for (const p of pieces) longest = Math.max(longest, [...p].length);
    this.maxPieceLength = longest;
    const unkId = model.unk_id;
    if (unkId === null || unkId === undefined) this.unkId = undefined;
    else if (!Number.isInteger(unkId) || (unkId as number) < 0 || (unkId as number) >= this.vocabSize)
      throw inputError(at("model.unk_id"), `expected an id from 0 to ${this.vocabSize - 1}`);
    else this.unkId = unkId as number;
    let min = Number.POSITIVE_INFINITY;
    for (const s of this.scores) min = Math.min(min, s);
    this.unkScore = min - 10;
    if (model.byte_fallback === true) {
      const bytes = new Int32Array(256);
      for (let b = 0; b < 256; b++)
        bytes[b] = this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`) ?? -1;
      if (bytes.every((id) => id >= 0)) this.byteIds = bytes;
    }
    this.added = addedTokens(root.added_tokens, source, this.vocabSize);
    this.normalizers = normalizerOf(root.normalizer, source, "normalizer");
    this.metaspace = metaspaceOf(root.pre_tokenizer, source);
    const template = templateOf(root.post_processor, source, (t) => this.tokenId(t));
    this.prefix = template.prefix;
    this.suffix = template.suffix;
    this.endId = this.suffix[this.suffix.length - 1];
    const padding = root.padding as Json | null | undefined;
    const pad = padToken ?? (typeof padding?.pad_token === "string" ? padding.pad_token : undefined);
    const padId = pad !== undefined ? this.ids.get(pad) : undefined;
    if (pad !== undefined && padId === undefined)
      throw inputError({ file: source }, `the padding token '${pad}' is not in the vocabulary`);
    this.padId = padId ?? this.endId ?? 0;
  }

  /** Pieces by id. */
  get tokens(): readonly string[] {
    return this.pieces;
  }

  /** Ids of a text, without the template's special tokens. */
  encode(text: string): number[] {
    const out: number[] = [];
    this.splitAdded(text).forEach((part, section) => {
      if (typeof part === "number") {
        out.push(part);
        return;
      }
      let s = this.canonicalize ? siglipCanonicalize(part) : part;
      for (const n of this.normalizers) s = n(s);
      for (const word of this.preTokenize(s, section)) {
        let ids = this.cache.get(word);
        if (ids === undefined) {
          ids = [];
          this.segment(word, ids);
          if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
          this.cache.set(word, ids);
        }
        for (const id of ids) out.push(id);
      }
    });
    return out;
  }

  /**
   * Rows of `contextLength` ids, row-major [texts.length, contextLength]: the template around the text's ids
   * (`ids </s>` for SigLIP), then the padding id to the end, as SigLIP was trained (padding "max_length").
   * A text too long loses its last ids, keeping the template's tokens (Hugging Face's truncation).
   */
  encodeBatch(texts: readonly string[], contextLength: number): Int32Array {
    if (!Number.isInteger(contextLength) || contextLength < 1)
      throw new UserError(`context length must be a positive integer, got ${contextLength}`);
    const out = new Int32Array(texts.length * contextLength).fill(this.padId);
    const room = Math.max(0, contextLength - this.prefix.length - this.suffix.length);
    texts.forEach((text, row) => {
      const ids = [...this.prefix, ...this.encode(text).slice(0, room), ...this.suffix].slice(
        0,
        contextLength,
      );
      out.set(ids, row * contextLength);
    });
    return out;
  }

  /** Text of ids: pieces joined, `▁` read as a space (the first one dropped), byte pieces as UTF-8. */
  decode(ids: Iterable<number>): string {
    const bytes: number[] = [];
    const replacement = this.metaspace?.replacement ?? "▁";
    for (const id of ids) {
      const piece = this.pieces[id];
      if (piece === undefined)
        throw new UserError(`token id ${id} is outside the vocabulary (0 to ${this.vocabSize - 1})`);
      const byte = /^<0x([0-9A-F]{2})>$/.exec(piece);
      if (byte && this.byteIds) bytes.push(Number.parseInt(byte[1] as string, 16));
      else bytes.push(...utf8.encode(piece.replaceAll(replacement, " ")));
    }
    const text = new TextDecoder().decode(Uint8Array.from(bytes));
    return this.metaspace && this.metaspace.prepend !== "never" ? text.replace(/^ /, "") : text;
  }

  /** The tokenizer.json text (as read, with SigLIP's canonicalization and the padding token written in). */
  toJson(): string {
    const root = structuredClone(this.root);
    if (this.canonicalize) {
      // Written as normalizers, so that Hugging Face's tokenizers and transformers.js apply it too.
      const canonical = [
        { type: "Lowercase" },
        { type: "Replace", pattern: { Regex: ASCII_PUNCTUATION.source }, content: "" },
        { type: "Replace", pattern: { Regex: `[${PY_SPACE}]+` }, content: " " },
        { type: "Strip", strip_left: true, strip_right: true },
      ];
      root.normalizer = {
        type: "Sequence",
        normalizers: root.normalizer ? [...canonical, root.normalizer] : canonical,
      };
    }
    const pad = this.pieces[this.padId] as string;
    root.padding = { ...((root.padding as Json | null) ?? {}), pad_id: this.padId, pad_token: pad };
    return `${JSON.stringify(root, null, 2)}\n`;
  }

  private tokenId(token: string): number | undefined {
    return this.added.find((t) => t.content === token)?.id ?? this.ids.get(token);
  }

  /** The text cut at added tokens (longest match first, leftmost): strings, and the added tokens' ids. */
  private splitAdded(text: string): (string | number)[] {
    if (this.added.length === 0) return [text];
    const parts: (string | number)[] = [];
    let start = 0;
    let pending = "";
    for (let i = 0; i < text.length; ) {
      const hit = this.added.find((t) => text.startsWith(t.content, i));
      if (!hit) {
        i++;
        continue;
      }
      pending += text.slice(start, i);
      if (hit.lstrip) pending = pending.trimEnd();
      if (pending !== "") parts.push(pending);
      parts.push(hit.id);
      pending = "";
      i += hit.content.length;
      if (hit.rstrip) while (i < text.length && /\s/.test(text[i] as string)) i++;
      start = i;
    }
    pending += text.slice(start);
    if (pending !== "") parts.push(pending);
    return parts;
  }

  /** Metaspace: spaces to `▁`, one prepended (per the scheme), split before each `▁` (when `split`). */
  private preTokenize(text: string, section: number): string[] {
    const m = this.metaspace;
    if (!m) return text === "" ? [] : [text];
    let s = text.replaceAll(" ", m.replacement);
    if (
      s !== "" &&
      !s.startsWith(m.replacement) &&
      (m.prepend === "always" || (m.prepend === "first" && section === 0))
    )
      s = m.replacement + s;
    if (s === "") return [];
    if (!m.split) return [s];
    const words: string[] = [];
    let from = 0;
    for (let i = s.indexOf(m.replacement, 1); i >= 0; i = s.indexOf(m.replacement, i + 1)) {
      words.push(s.slice(from, i));
      from = i;
    }
    words.push(s.slice(from));
    return words;
  }

  /**
   * Viterbi over the word's lattice: best[e] is the highest total score of a segmentation of the first e
   * characters; each piece starting at b with a vocabulary entry extends best[b]. Ties keep the piece that
   * starts first (Hugging Face's order).
   */
  private segment(word: string, out: number[]): void {
    const chars = [...word];
    const n = chars.length;
    const best = new Float64Array(n + 1).fill(Number.NEGATIVE_INFINITY);
    const from = new Int32Array(n + 1).fill(-1);
    const piece = new Int32Array(n + 1).fill(-1);
    best[0] = 0;
    for (let b = 0; b < n; b++) {
      if (best[b] === Number.NEGATIVE_INFINITY) continue;
      let single = false;
      let text = "";
      for (let len = 1; len <= this.maxPieceLength && b + len <= n; len++) {
        text += chars[b + len - 1];
        const id = this.ids.get(text);
        if (id === undefined) continue;
        if (len === 1) single = true;
        const score = (best[b] as number) + (id === this.unkId ? this.unkScore : (this.scores[id] as number));
        if (score > (best[b + len] as number)) {
          best[b + len] = score;
          from[b + len] = b;
          piece[b + len] = id;
        }
      }
      if (!single) {
        // No piece covers this character: an unknown node (id -1 until emitted).
        const score = (best[b] as number) + this.unkScore;
        if (score > (best[b + 1] as number)) {
          best[b + 1] = score;
          from[b + 1] = b;
          piece[b + 1] = -1;
        }
      }
    }
    const path: [number, number, number][] = [];
    for (let e = n; e > 0; e = from[e] as number) path.push([from[e] as number, e, piece[e] as number]);
    path.reverse();
    let unknown = "";
    const flush = () => {
      if (unknown === "") return;
      if (this.byteIds) for (const byte of utf8.encode(unknown)) out.push(this.byteIds[byte] as number);
      else {
        if (this.unkId === undefined)
          throw new UserError(`${this.source}: '${unknown}' has no piece and the model has no unk_id`);
        out.push(this.unkId);
      }
      unknown = "";
    };
    for (const [b, e, id] of path) {
      if (id < 0 || id === this.unkId) unknown += chars.slice(b, e).join("");
      else {
        flush();
        out.push(id);
      }
    }
    flush();
  }
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function addedTokens(value: unknown, file: string, vocabSize: number): AddedToken[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw inputError({ file, field: "added_tokens" }, "expected a list");
  const out = value.map((t: unknown, i): AddedToken => {
    if (!isObject(t) || typeof t.content !== "string" || t.content === "" || !Number.isInteger(t.id))
      throw inputError(
        { file, field: `added_tokens[${i}]` },
        "expected an object with a non-empty string 'content' and an integer 'id'",
      );
    if ((t.id as number) < 0 || (t.id as number) >= vocabSize)
      throw inputError({ file, field: `added_tokens[${i}].id` }, `expected an id from 0 to ${vocabSize - 1}`);
    return { content: t.content, id: t.id as number, lstrip: t.lstrip === true, rstrip: t.rstrip === true };
  });
  // Longest first, so that a token containing another one wins where both match.
  return out.sort((a, b) => b.content.length - a.content.length);
}

function patternOf(p: unknown, file: string, field: string): RegExp {
  if (isObject(p) && typeof p.String === "string")
    return new RegExp(p.String.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gu");
  if (isObject(p) && typeof p.Regex === "string") {
    try {
      return new RegExp(p.Regex, "gu");
    } catch (e) {
      throw inputError(
        { file, field },
        `a regular expression JavaScript cannot read (${(e as Error).message})`,
      );
    }
  }
  throw inputError({ file, field }, 'expected {"String": …} or {"Regex": …}');
}

/**
 * The normalizers Unigram tokenizer files use. `Precompiled` (SentencePiece's compiled NFKC-based map) is
 * read as transformers.js reads it: control characters removed, odd spaces to spaces, then NFKC.
 */
function normalizerOf(n: unknown, file: string, field: string): Normalize[] {
  if (n === null || n === undefined) return [];
  if (!isObject(n)) throw inputError({ file, field }, "expected an object or null");
  switch (n.type) {
    case "Sequence": {
      if (!Array.isArray(n.normalizers))
        throw inputError({ file, field: `${field}.normalizers` }, "expected a list");
      return n.normalizers.flatMap((m: unknown, i) => normalizerOf(m, file, `${field}.normalizers[${i}]`));
    }
    case "Lowercase":
      return [(s) => s.toLowerCase()];
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD": {
      const form = n.type;
      return [(s) => s.normalize(form)];
    }
    case "Strip": {
      const left = n.strip_left !== false;
      const right = n.strip_right !== false;
      return [(s) => (left && right ? s.trim() : left ? s.trimStart() : right ? s.trimEnd() : s)];
    }
    case "Replace": {
      const pattern = patternOf(n.pattern, file, `${field}.pattern`);
      const content = typeof n.content === "string" ? n.content : "";
      return [(s) => s.replace(pattern, () => content)];
    }
    case "Prepend": {
      const prepend = typeof n.prepend === "string" ? n.prepend : "";
      return [(s) => (s === "" ? s : prepend + s)];
    }
    case "Precompiled":
      return [precompiled];
    default:
      throw inputError(
        { file, field: `${field}.type` },
        `a normalizer Juxta reads for Unigram tokenizers (Sequence, Lowercase, NFC, NFD, NFKC, NFKD, Strip, Replace, Prepend, Precompiled), got ${JSON.stringify(n.type)}`,
      );
  }
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
/** Removed by transformers.js's reading of SentencePiece's map: C0/C1 controls but tab and newlines. */
const CONTROLS = new Set([...range(0x01, 0x08), 0x0b, ...range(0x0e, 0x1f), 0x7f, 0x8f, 0x9f]);
/** Read as a space: tabs, newlines and Unicode's other spaces, `▁` itself, BOM and U+FFFD. */
const AS_SPACE = new Set([
  0x09,
  0x0a,
  0x0c,
  0x0d,
  0xa0,
  0x1680,
  ...range(0x2000, 0x200f),
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x2581,
  0x3000,
  0xfeff,
  0xfffd,
]);

function precompiled(text: string): string {
  let out = "";
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    if (!CONTROLS.has(c)) out += AS_SPACE.has(c) ? " " : ch;
  }
  return out.normalize("NFKC");
}

function metaspaceOf(p: unknown, file: string): Metaspace | undefined {
  if (p === null || p === undefined) return undefined;
  if (!isObject(p) || p.type !== "Metaspace")
    throw inputError(
      { file, field: "pre_tokenizer.type" },
      `expected "Metaspace" (or no pre-tokenizer) for a Unigram tokenizer, got ${JSON.stringify(isObject(p) ? p.type : p)}`,
    );
  const scheme = p.prepend_scheme ?? (p.add_prefix_space === false ? "never" : "always");
  if (scheme !== "always" && scheme !== "first" && scheme !== "never")
    throw inputError(
      { file, field: "pre_tokenizer.prepend_scheme" },
      `expected "always", "first" or "never"`,
    );
  return {
    replacement: typeof p.replacement === "string" ? p.replacement : "▁",
    prepend: scheme,
    split: p.split !== false,
  };
}

/** The special tokens the post-processor puts before and after a single text. */
function templateOf(
  p: unknown,
  file: string,
  idOf: (token: string) => number | undefined,
): { prefix: number[]; suffix: number[] } {
  if (p === null || p === undefined) return { prefix: [], suffix: [] };
  if (!isObject(p) || p.type !== "TemplateProcessing" || !Array.isArray(p.single))
    throw inputError(
      { file, field: "post_processor" },
      "expected a TemplateProcessing post-processor with a 'single' template (or none)",
    );
  const prefix: number[] = [];
  const suffix: number[] = [];
  let seen = false;
  p.single.forEach((item: unknown, i) => {
    const field = `post_processor.single[${i}]`;
    if (isObject(item) && isObject(item.Sequence)) {
      seen = true;
      return;
    }
    const special = isObject(item) && isObject(item.SpecialToken) ? item.SpecialToken.id : undefined;
    if (typeof special !== "string")
      throw inputError({ file, field }, "expected a Sequence or a SpecialToken");
    const listed = isObject(p.special_tokens) ? (p.special_tokens as Json)[special] : undefined;
    const ids = isObject(listed) && Array.isArray(listed.ids) ? (listed.ids as number[]) : undefined;
    const resolved = ids ?? [idOf(special)];
    if (resolved.some((id) => !Number.isInteger(id)))
      throw inputError({ file, field }, `special token '${special}' is not in the vocabulary`);
    (seen ? suffix : prefix).push(...(resolved as number[]));
  });
  return { prefix, suffix };
}
