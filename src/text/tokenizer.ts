/**
 * Juxta's byte-level BPE tokenizer (CLIP style): CLIP's cleaning and split, bytes spelled as printable
 * characters, `</w>` marking the last symbol of a word, merges applied lowest rank first.
 */
import { inputError, type Location, UserError } from "../util/errors.js";
import { BYTE_TO_CHAR, CHAR_TO_BYTE } from "./bytes.js";
import { clipClean, splitPattern } from "./clean.js";
import { Heap } from "./heap.js";

export const START_TOKEN = "<|startoftext|>";
export const END_TOKEN = "<|endoftext|>";
/** Suffix of a word's last symbol. */
export const WORD_END = "</w>";

/** What a tokenizer is made of. */
export interface TokenizerSpec {
  /** Token strings by id: byte characters (see bytes.ts), their `</w>` forms, merged tokens, specials. */
  vocab: readonly string[];
  /** Merges by priority (rank = index): each joins two vocabulary tokens into a third one. */
  merges: readonly (readonly [string, string])[];
  /** Defaults to `<|startoftext|>`. */
  startToken?: string;
  /** Defaults to `<|endoftext|>`. */
  endToken?: string;
}

/** Where a spec came from, so that a bad one is reported at its file (and line of a merge). */
export interface SpecOrigin {
  file?: string;
  merge?: (index: number) => Location;
}

/** Pair keys are `left * PAIR_STRIDE + right`: exact in a double for ids below 2^21. */
export const PAIR_STRIDE = 2 ** 21;
/** Words cached at most; the cache starts over when full (captions repeat words, a corpus has a long tail). */
const CACHE_LIMIT = 100_000;

interface Merge {
  rank: number;
  id: number;
}

interface Candidate {
  rank: number;
  pos: number;
  left: number;
  right: number;
}

const utf8 = new TextEncoder();

export class Tokenizer {
  readonly vocabSize: number;
  readonly startId: number;
  readonly endId: number;
  readonly startToken: string;
  readonly endToken: string;
  private readonly vocab: readonly string[];
  private readonly mergeList: readonly (readonly [string, string])[];
  private readonly ids = new Map<string, number>();
  private readonly byteIds = new Int32Array(256);
  private readonly byteEndIds = new Int32Array(256);
  private readonly mergeTable = new Map<number, Merge>();
  private readonly specials = new Map<string, number>();
  private readonly pattern: RegExp;
  private readonly cache = new Map<string, readonly number[]>();

  constructor(spec: TokenizerSpec, origin: SpecOrigin = {}) {
    const at = { file: origin.file };
    this.vocab = spec.vocab;
    this.mergeList = spec.merges;
    this.vocabSize = spec.vocab.length;
    if (this.vocabSize > PAIR_STRIDE) throw inputError(at, `a vocabulary of at most ${PAIR_STRIDE} tokens`);
    // A token listed twice gets its last id, as in OpenAI's `dict(zip(vocab, range(len(vocab))))`.
    for (const [id, token] of spec.vocab.entries()) this.ids.set(token, id);
    const need = (token: string, loc: Location, what: string): number => {
      const id = this.ids.get(token);
      if (id === undefined) throw inputError(loc, `${what} '${token}' is not in the vocabulary`);
      return id;
    };
    for (let b = 0; b < 256; b++) {
      const what = `expected a byte-level vocabulary (CLIP style); the symbol for byte 0x${b.toString(16)}`;
      this.byteIds[b] = need(BYTE_TO_CHAR[b] as string, at, what);
      this.byteEndIds[b] = need(`${BYTE_TO_CHAR[b]}${WORD_END}`, at, `${what} with ${WORD_END}`);
    }
    spec.merges.forEach(([a, b], rank) => {
      const loc = origin.merge?.(rank) ?? at;
      const key =
        need(a, loc, `merge '${a} ${b}': token`) * PAIR_STRIDE + need(b, loc, `merge '${a} ${b}': token`);
      // A repeated pair keeps its last rank, as OpenAI's rank dict does.
      this.mergeTable.set(key, { rank, id: need(a + b, loc, `merge '${a} ${b}': the merged token`) });
    });
    this.startToken = spec.startToken ?? START_TOKEN;
    this.endToken = spec.endToken ?? END_TOKEN;
    this.startId = need(this.startToken, at, "start token");
    this.endId = need(this.endToken, at, "end token");
    this.specials.set(this.startToken.toLowerCase(), this.startId);
    this.specials.set(this.endToken.toLowerCase(), this.endId);
    this.pattern = splitPattern([this.startToken, this.endToken]);
  }

  /** Token strings by id. */
  get tokens(): readonly string[] {
    return this.vocab;
  }

  /** Merges by rank. */
  get merges(): readonly (readonly [string, string])[] {
    return this.mergeList;
  }

  /** Ids of a text, without start and end tokens. */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const match of clipClean(text).matchAll(this.pattern)) {
      const word = match[0];
      const special = this.specials.get(word);
      if (special !== undefined) {
        out.push(special);
        continue;
      }
      let ids = this.cache.get(word);
      if (ids === undefined) {
        ids = this.bpe(word);
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }

  /**
   * Rows of `contextLength` ids, row-major [texts.length, contextLength]: start, ids, end, zeros. A text too
   * long is cut to fit and its last position set to the end token, as OpenCLIP's `tokenize` does.
   */
  encodeBatch(texts: readonly string[], contextLength: number): Int32Array {
    if (!Number.isInteger(contextLength) || contextLength < 1)
      throw new UserError(`context length must be a positive integer, got ${contextLength}`);
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((text, row) => {
      const ids = [this.startId, ...this.encode(text), this.endId];
      if (ids.length > contextLength) {
        ids.length = contextLength;
        ids[contextLength - 1] = this.endId;
      }
      out.set(ids, row * contextLength);
    });
    return out;
  }

  /** Text of ids: bytes joined and read as UTF-8 (bad sequences → U+FFFD), `</w>` → space, no trailing space. */
  decode(ids: Iterable<number>): string {
    const bytes: number[] = [];
    for (const id of ids) {
      const token = this.vocab[id];
      if (token === undefined)
        throw new UserError(`token id ${id} is outside the vocabulary (0 to ${this.vocabSize - 1})`);
      for (const ch of token) {
        const b = CHAR_TO_BYTE.get(ch);
        if (b !== undefined) bytes.push(b);
        else bytes.push(...utf8.encode(ch));
      }
    }
    return new TextDecoder().decode(Uint8Array.from(bytes)).replaceAll(WORD_END, " ").replace(/ $/, "");
  }

  /**
   * BPE of one word: its UTF-8 bytes as symbols (the last with `</w>`); then, lowest rank first, every
   * occurrence of that pair merged left to right; until no adjacent pair has a rank. Symbols form a linked
   * list and candidate pairs sit in a heap ordered by (rank, position), so a word of n bytes costs
   * O(n log n). New pairs wait until the current rank is done, which keeps OpenAI's order exactly.
   */
  private bpe(word: string): number[] {
    const bytes = utf8.encode(word);
    const n = bytes.length;
    const sym = new Int32Array(n);
    for (let i = 0; i < n; i++) sym[i] = this.byteIds[bytes[i] as number] as number;
    sym[n - 1] = this.byteEndIds[bytes[n - 1] as number] as number;
    if (n === 1) return [sym[0] as number];
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new Heap<Candidate>((x, y) => x.rank < y.rank || (x.rank === y.rank && x.pos < y.pos));
    const candidate = (pos: number, into: Candidate[] | Heap<Candidate>) => {
      if (pos < 0 || (next[pos] as number) < 0) return;
      const left = sym[pos] as number;
      const right = sym[next[pos] as number] as number;
      const merge = this.mergeTable.get(left * PAIR_STRIDE + right);
      if (merge) into.push({ rank: merge.rank, pos, left, right });
    };
    for (let i = 0; i + 1 < n; i++) candidate(i, heap);
    while (heap.size > 0) {
      const rank = (heap.peek() as Candidate).rank;
      const later: Candidate[] = [];
      while (heap.size > 0 && (heap.peek() as Candidate).rank === rank) {
        const c = heap.pop() as Candidate;
        const right = next[c.pos] as number;
        // Stale: an earlier merge took one side of this pair.
        if (sym[c.pos] !== c.left || right < 0 || sym[right] !== c.right) continue;
        sym[c.pos] = (this.mergeTable.get(c.left * PAIR_STRIDE + c.right) as Merge).id;
        sym[right] = -1;
        const after = next[right] as number;
        next[c.pos] = after;
        if (after >= 0) prev[after] = c.pos;
        candidate(prev[c.pos] as number, later);
        candidate(c.pos, later);
      }
      for (const c of later) heap.push(c);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i] as number) out.push(sym[i] as number);
    return out;
  }
}
