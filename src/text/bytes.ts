/**
 * GPT-2/CLIP's reversible map between bytes and printable characters: byte-level BPE works on these
 * characters, so that every byte sequence (any UTF-8 text) has a spelling in the vocabulary.
 */

const printable = (b: number) =>
  (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);

/**
 * Bytes in the order OpenAI lists them, which is the order of the first 256 vocabulary ids: the printable
 * Latin-1 bytes first, then the others.
 */
export const BYTE_ORDER: readonly number[] = [
  ...Array.from({ length: 256 }, (_, b) => b).filter(printable),
  ...Array.from({ length: 256 }, (_, b) => b).filter((b) => !printable(b)),
];

/** Byte → its character: printable bytes stand for themselves, the others take U+0100 onwards in order. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  let shifted = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(printable(b) ? b : 256 + shifted++));
})();

/** Character → byte, for decoding. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
