/**
 * CSV (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes, CRLF or LF) and TSV (tab
 * separated, quotes are plain text as in the IANA TSV format) parsed at the byte level, so each field can be
 * decoded with a fatal UTF-8 decoder and a record with broken bytes is reported instead of mangled.
 */

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

export interface DelimitedOptions {
  delimiter: "," | "\t";
  /** Whether `"` starts a quoted field (CSV) or is plain text (TSV). */
  quotes: boolean;
}

/** A record with the line it starts on, or why it could not be read. Blank lines yield nothing. */
export type DelimitedRecord = { line: number; fields: string[] } | { line: number; error: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** A record already reported (an unterminated quote): nothing more to yield for it. */
const SKIPPED = "";

export function* parseDelimited(bytes: Uint8Array, opts: DelimitedOptions): Generator<DelimitedRecord> {
  const delim = opts.delimiter.charCodeAt(0);
  const n = bytes.length;
  let pos = 0;
  let line = 1;
  while (pos < n) {
    const start = line;
    const raw: { from: number; to: number; quoted: boolean }[] = [];
    let error: string | undefined;
    for (;;) {
      if (opts.quotes && bytes[pos] === QUOTE) {
        const quoteLine = line;
        let i = pos + 1;
        while (i < n) {
          if (bytes[i] === QUOTE) {
            if (bytes[i + 1] !== QUOTE) break;
            i += 2;
            continue;
          }
          if (bytes[i] === LF) line++;
          i++;
        }
        if (i >= n) {
          // Skip only the line the quote opened on and read on: one stray quote must not swallow (and
          // hide) every row after it.
          const lf = bytes.indexOf(LF, pos);
          yield {
            line: start,
            error: `unterminated quote: a field opened on line ${quoteLine} never closes (reading on from the next line)`,
          };
          if (lf < 0) return;
          pos = lf + 1;
          line = quoteLine + 1;
          error = SKIPPED;
          break;
        }
        raw.push({ from: pos + 1, to: i, quoted: true });
        pos = i + 1;
        if (bytes[pos] === CR && bytes[pos + 1] === LF) pos++;
        if (pos < n && bytes[pos] !== delim && bytes[pos] !== LF) {
          error = 'malformed quotes: text after a closing quote (write a quote inside a quoted field as "")';
          while (pos < n && bytes[pos] !== LF) pos++;
        }
      } else {
        let i = pos;
        while (i < n && bytes[i] !== delim && bytes[i] !== LF) i++;
        const to = i > pos && (i === n || bytes[i] === LF) && bytes[i - 1] === CR ? i - 1 : i;
        raw.push({ from: pos, to, quoted: false });
        pos = i;
      }
      if (pos < n && bytes[pos] === delim) {
        pos++;
        if (pos === n) raw.push({ from: n, to: n, quoted: false });
        continue;
      }
      if (pos < n) {
        pos++;
        line++;
      }
      break;
    }
    if (error === SKIPPED) continue;
    if (error !== undefined) {
      yield { line: start, error };
      continue;
    }
    if (raw.length === 1 && !raw[0]!.quoted && raw[0]!.from === raw[0]!.to) continue;
    try {
      const fields = raw.map((f) => {
        const s = utf8.decode(bytes.subarray(f.from, f.to));
        return f.quoted ? s.replaceAll('""', '"') : s;
      });
      yield { line: start, fields };
    } catch {
      yield { line: start, error: "not UTF-8: the record holds bytes that are not valid UTF-8" };
    }
  }
}
