/**
 * CSV (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes, CRLF or LF) and TSV (tab
 * separated, quotes are plain text as in the IANA TSV format) parsed at the byte level, so each field can be
 * decoded with a fatal UTF-8 decoder and a record with broken bytes is reported instead of mangled.
 *
 * One parser, two drivers: a whole file's bytes at once (`final`, the default), or a file read window by
 * window (streamDelimited), where a chunk that is not the file's last stops before the first record it
 * cannot finish and says where that record starts, so both give the same records, lines and errors.
 */
import { open } from "node:fs/promises";
import { UserError } from "../util/errors.js";

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

/** A chunk of a file: whether it is the file's last (default), and the line it starts on (default 1). */
export interface DelimitedChunk {
  final?: boolean;
  line?: number;
}

/** Where a chunk's parse stopped: the first byte of the record it could not finish, and that record's line. */
export interface DelimitedRest {
  consumed: number;
  line: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** A record already reported (an unterminated quote): nothing more to yield for it. */
const SKIPPED = "";

export function* parseDelimited(
  bytes: Uint8Array,
  opts: DelimitedOptions,
  chunk: DelimitedChunk = {},
): Generator<DelimitedRecord, DelimitedRest> {
  const delim = opts.delimiter.charCodeAt(0);
  const final = chunk.final ?? true;
  const n = bytes.length;
  let pos = 0;
  let line = chunk.line ?? 1;
  while (pos < n) {
    const start = line;
    // Not the file's last chunk and this record runs past its end: the next chunk starts with it.
    const rest = { consumed: pos, line: start };
    const raw: { from: number; to: number; quoted: boolean }[] = [];
    let error: string | undefined;
    for (;;) {
      if (opts.quotes && bytes[pos] === QUOTE) {
        const quoteLine = line;
        let i = pos + 1;
        while (i < n) {
          if (bytes[i] === QUOTE) {
            // A closing quote or the first of a doubled one: the next chunk tells.
            if (i + 1 === n && !final) return rest;
            if (bytes[i + 1] !== QUOTE) break;
            i += 2;
            continue;
          }
          if (bytes[i] === LF) line++;
          i++;
        }
        if (i >= n) {
          if (!final) return rest;
          // Skip only the line the quote opened on and read on: one stray quote must not swallow (and
          // hide) every row after it.
          const lf = bytes.indexOf(LF, pos);
          yield {
            line: start,
            error: `unterminated quote: a field opened on line ${quoteLine} never closes (reading on from the next line)`,
          };
          if (lf < 0) return { consumed: n, line: quoteLine + 1 };
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
          if (pos === n && !final) return rest;
        }
      } else {
        let i = pos;
        while (i < n && bytes[i] !== delim && bytes[i] !== LF) i++;
        if (i === n && !final) return rest;
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
  return { consumed: n, line };
}

/** Bytes read at a time; a record longer than what is held makes the next read as long as it (see below). */
const WINDOW = 1 << 20;

/**
 * A CSV/TSV file's records read in windows of 1 MiB: the same records, lines and errors as parseDelimited
 * on the whole file, in memory that holds a window and the record being read. A record longer than the
 * window (or a quote that never closes, which runs to the end of the file) makes each next read as long as
 * what is held, so it is scanned a logarithmic number of times, not once a window.
 */
export async function* streamDelimited(
  file: string,
  opts: DelimitedOptions,
): AsyncGenerator<DelimitedRecord> {
  const fh = await open(file, "r").catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read manifest ${file}: ${e.code ?? e.message}`);
  });
  try {
    let held = new Uint8Array(0);
    let line = 1;
    for (;;) {
      const window = new Uint8Array(Math.max(WINDOW, held.length));
      const { bytesRead } = await fh.read(window, 0, window.length, null);
      const final = bytesRead === 0;
      let bytes = window.subarray(0, bytesRead);
      if (held.length > 0) {
        bytes = new Uint8Array(held.length + bytesRead);
        bytes.set(held);
        bytes.set(window.subarray(0, bytesRead), held.length);
      }
      const records = parseDelimited(bytes, opts, { final, line });
      let r = records.next();
      for (; !r.done; r = records.next()) yield r.value;
      if (final) return;
      held = bytes.slice(r.value.consumed);
      line = r.value.line;
    }
  } finally {
    await fh.close();
  }
}
