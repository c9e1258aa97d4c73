/**
 * SentencePiece's own model file (`spiece.model`, a protobuf `ModelProto`), as Google's SigLIP and T5
 * repositories ship it instead of a tokenizer.json: its pieces, scores and types, the trainer's special ids
 * and the normalizer, read into the tokenizer.json layout the Unigram tokenizer takes (unigram.ts), the way
 * Hugging Face converts one: specials as added tokens, the normalizer map as `Precompiled` (NFKC), spaces
 * collapsed, Metaspace with a `▁` prepended, and `$A </s>` when the model has an end token.
 *
 * Only the fields that matter are read (sentencepiece_model.proto): ModelProto.pieces = 1 {piece = 1,
 * score = 2, type = 3}, trainer_spec = 2 {model_type = 3, byte_fallback = 35, unk_id = 40, eos_id = 42},
 * normalizer_spec = 3 {add_dummy_prefix = 3, remove_extra_whitespaces = 4}.
 */
import { inputError } from "../util/errors.js";

type Json = Record<string, unknown>;

/** SentencePiece.Type: NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6. */
const UNKNOWN = 2;
const CONTROL = 3;
const USER_DEFINED = 4;
/** TrainerSpec.ModelType UNIGRAM. */
const UNIGRAM = 1;

interface Field {
  number: number;
  wire: number;
  /** Varint value, or the 32-bit word for wire type 5. */
  value: number;
  /** Bytes of a length-delimited field. */
  bytes?: Uint8Array;
}

/** The fields of one protobuf message, in order; a malformed one is a UserError naming `file`. */
function fields(buf: Uint8Array, file: string): Field[] {
  const out: Field[] = [];
  let at = 0;
  const bad = () =>
    inputError(
      { file },
      "expected a SentencePiece model (a protobuf ModelProto); it is cut short or damaged",
    );
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= buf.length) throw bad();
      const b = buf[at++] as number;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
    throw bad();
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (at < buf.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) out.push({ number, wire, value: varint() });
    else if (wire === 2) {
      const n = varint();
      if (at + n > buf.length) throw bad();
      out.push({ number, wire, value: n, bytes: buf.subarray(at, at + n) });
      at += n;
    } else if (wire === 5) {
      if (at + 4 > buf.length) throw bad();
      out.push({ number, wire, value: view.getUint32(at, true) });
      at += 4;
    } else if (wire === 1) {
      if (at + 8 > buf.length) throw bad();
      at += 8;
    } else throw bad();
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const f32 = new DataView(new ArrayBuffer(4));

/** spiece.model bytes → a tokenizer.json root with a Unigram model; `file` names it in errors. */
export function sentencePieceToJson(buf: Uint8Array, file: string): Json {
  const top = fields(buf, file);
  const message = (n: number) =>
    fields(top.find((f) => f.number === n && f.bytes)?.bytes ?? new Uint8Array(), file);
  const trainer = message(2);
  const normalizer = message(3);
  const get = (list: Field[], n: number, fallback: number) =>
    list.find((f) => f.number === n)?.value ?? fallback;
  if (get(trainer, 3, UNIGRAM) !== UNIGRAM)
    throw inputError(
      { file, field: "trainer_spec.model_type" },
      `expected a Unigram model (1), got ${get(trainer, 3, UNIGRAM)}; Juxta reads SentencePiece Unigram models`,
    );
  const vocab: [string, number][] = [];
  const added: Json[] = [];
  for (const f of top) {
    if (f.number !== 1 || !f.bytes) continue;
    const piece = fields(f.bytes, file);
    let text: string;
    try {
      text = utf8.decode(piece.find((p) => p.number === 1)?.bytes ?? new Uint8Array());
    } catch {
      throw inputError({ file, field: `pieces[${vocab.length}].piece` }, "expected UTF-8 text");
    }
    f32.setUint32(0, get(piece, 2, 0), true);
    const type = get(piece, 3, 1);
    const id = vocab.length;
    vocab.push([text, f32.getFloat32(0, true)]);
    if (type === UNKNOWN || type === CONTROL || type === USER_DEFINED)
      added.push({
        id,
        content: text,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: type !== USER_DEFINED,
      });
  }
  if (vocab.length === 0)
    throw inputError({ file, field: "pieces" }, "expected a SentencePiece model with pieces");
  const inRange = (id: number) => (id >= 0 && id < vocab.length ? id : undefined);
  const unk = inRange(get(trainer, 40, 0));
  const eos = inRange(get(trainer, 42, 2));
  const eosPiece = eos === undefined ? undefined : (vocab[eos] as [string, number])[0];
  const normalizers: Json[] = [{ type: "Precompiled", precompiled_charsmap: null }];
  if (get(normalizer, 4, 1) !== 0)
    normalizers.push(
      { type: "Replace", pattern: { Regex: " {2,}" }, content: " " },
      { type: "Strip", strip_left: true, strip_right: true },
    );
  return {
    version: "1.0",
    added_tokens: added,
    normalizer: { type: "Sequence", normalizers },
    pre_tokenizer: {
      type: "Metaspace",
      replacement: "▁",
      prepend_scheme: get(normalizer, 3, 1) !== 0 ? "always" : "never",
      split: true,
    },
    post_processor:
      eosPiece === undefined
        ? null
        : {
            type: "TemplateProcessing",
            single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: eosPiece, type_id: 0 } }],
            special_tokens: { [eosPiece]: { id: eosPiece, ids: [eos], tokens: [eosPiece] } },
          },
    model: { type: "Unigram", unk_id: unk ?? null, vocab, byte_fallback: get(trainer, 35, 0) === 1 },
  };
}
