/**
 * CLIP's text cleaning and word splitting, as OpenAI CLIP's `simple_tokenizer.py` does them: NFC,
 * html-unescape twice, whitespace collapsed, stripped, lower-cased; then the split regex.
 *
 * OpenAI first runs `ftfy.fix_text`, which is not available in JavaScript. Of what it does, only its NFC
 * normalization is applied here (it is also what Hugging Face's CLIP normalizer does). Not applied: mojibake
 * repair ("cafÃ©" stays as is instead of becoming "café"), uncurling quotes (’ stays ’, not '), full-width
 * to half-width letters, ligature splitting (ﬁ), and removal of control characters and terminal escapes.
 * Text with none of these (most captions) gets exactly OpenAI's ids; text with them gets ids for the text
 * as written, which is still a valid encoding, only not the one CLIP saw in training.
 */
import { namedReferences } from "./html-entities.js";

/** Python's whitespace (`str.isspace`, `re`'s `\s`), which `strip()` and the whitespace collapse use. */
const PY_SPACE =
  "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
/** The `regex` module's `\s` (Unicode White_Space), which the split regex uses. */
const RE_SPACE = "\\t\\n\\v\\f\\r\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const SPACES = new RegExp(`[${PY_SPACE}]+`, "gu");
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** What numeric references to these code points become instead (HTML5's table: Windows-1252 for 0x80–0x9f). */
const CHARREF_FIXES = new Map<number, string>([
  [0x00, "\ufffd"],
  [0x0d, "\r"],
  ...[
    0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
    0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
    0x153, 0x9d, 0x17e, 0x178,
  ].map((cp, i): [number, string] => [0x80 + i, String.fromCodePoint(cp)]),
]);

/** Code points a numeric reference may not produce: they are dropped. */
function forbidden(cp: number): boolean {
  return (
    (cp >= 0x01 && cp <= 0x08) ||
    cp === 0x0b ||
    (cp >= 0x0e && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe
  );
}

function numericReference(ref: string): string {
  const hex = ref[1] === "x" || ref[1] === "X";
  const digits = ref.slice(hex ? 2 : 1).replace(/;$/, "");
  // Parsing a long digit string as a float still lands above 0x10ffff, which is all that matters then.
  const cp = Number.parseInt(digits, hex ? 16 : 10);
  const fixed = CHARREF_FIXES.get(cp);
  if (fixed !== undefined) return fixed;
  if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return "\ufffd";
  return forbidden(cp) ? "" : String.fromCodePoint(cp);
}

function namedReference(ref: string): string {
  const names = namedReferences();
  const whole = names.get(ref);
  if (whole !== undefined) return whole;
  // HTML's rule for a name not followed by ';': the longest known prefix (legacy names such as "amp").
  const cps = Array.from(ref);
  for (let n = cps.length - 1; n > 1; n--) {
    const value = names.get(cps.slice(0, n).join(""));
    if (value !== undefined) return value + cps.slice(n).join("");
  }
  return `&${ref}`;
}

/** Python's `html.unescape`: named and numeric character references, with HTML5's error handling. */
export function htmlUnescape(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(CHARREF, (_, ref: string) =>
    ref[0] === "#" ? numericReference(ref) : namedReference(ref),
  );
}

/** CLIP's cleaning: NFC, html-unescape twice, whitespace runs → one space, stripped, lower-cased. */
export function clipClean(text: string): string {
  const unescaped = htmlUnescape(htmlUnescape(text.normalize("NFC")));
  return unescaped.replace(SPACES, " ").replace(/^ | $/g, "").toLowerCase();
}

/**
 * CLIP's split regex for lower-cased text, with the given special tokens matched whole: contractions,
 * letter runs, single digits, and runs of anything else but whitespace. OpenAI's pattern is
 * case-insensitive, which on lower-cased text changes one thing: U+0345 (combining ypogegrammeni, whose
 * case fold is the letter ι) matches no branch and is dropped, so it is left out of the last branch here.
 */
export function splitPattern(specials: readonly string[]): RegExp {
  const escaped = specials.map((s) => s.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const words = `'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^${RE_SPACE}\\p{L}\\p{N}\\u0345]+`;
  return new RegExp([...escaped, words].join("|"), "gu");
}
