/**
 * A reader for tar archives, held in memory or streamed from disk: ustar headers (checksums validated), pax
 * extended headers (`path`, `size`) and GNU long names. Only regular files are returned. A damaged archive
 * is a UserError naming the file and byte offset.
 */
import { type FileHandle, open } from "node:fs/promises";
import { UserError } from "../util/errors.js";

export interface TarMember {
  name: string;
  /** Byte offset of the member's header in the archive. */
  offset: number;
  data: Uint8Array;
}

const BLOCK = 512;
const latin = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8");

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return utf8.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** An octal number field, or (GNU, for sizes of 8 GiB and more) a big-endian base-256 one. */
function numberField(
  h: Uint8Array,
  from: number,
  len: number,
  what: string,
  fail: (m: string) => never,
): number {
  const f = h.subarray(from, from + len);
  if (f[0]! & 0x80) {
    let v = f[0]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + f[i]!;
    return v;
  }
  const s = latin
    .decode(f)
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) fail(`bad ${what} field '${s}'`);
  return Number.parseInt(s, 8);
}

/** pax records: "<length> <key>=<value>\n", the length counting the whole record. */
function paxRecords(data: Uint8Array, fail: (m: string) => never): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    const len = space < 0 ? Number.NaN : Number(latin.decode(data.subarray(pos, space)));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length || data[pos + len - 1] !== 0x0a)
      fail("malformed pax extended header");
    const record = utf8.decode(data.subarray(space + 1, pos + len - 1));
    const eq = record.indexOf("=");
    if (eq < 0) fail("malformed pax extended header");
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

/** What the parser asks its driver for (bytes at an offset), or a member it found. */
type TarStep = { read: number; length: number; header?: true } | { member: TarMember };

/**
 * The parser, as a coroutine: it yields read requests and receives the bytes, so the same code reads an
 * archive held in memory (readTar) and one streamed from disk (streamTar). `total` is the archive's size.
 */
function* parseTar(file: string, total: number): Generator<TarStep, void, Uint8Array> {
  let off = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  const globalPax = new Map<string, string>();
  while (off < total) {
    const fail = (m: string): never => {
      throw new UserError(`${file}: corrupt tar archive at byte offset ${off}: ${m}`);
    };
    if (off + BLOCK > total)
      throw new UserError(
        `${file}: truncated tar archive at byte offset ${off}: ${total - off} bytes left, a header needs ${BLOCK}`,
      );
    const h: Uint8Array = yield { read: off, length: BLOCK, header: true };
    if (h.every((b) => b === 0)) break;
    const stored = numberField(h, 148, 8, "checksum", fail);
    let unsigned = 0;
    let signed = 0;
    for (let i = 0; i < BLOCK; i++) {
      const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
      unsigned += b;
      signed += b > 127 ? b - 256 : b;
    }
    if (stored !== unsigned && stored !== signed)
      fail(`header checksum mismatch (stored ${stored}, computed ${unsigned}); not a tar file or damaged`);
    const type = String.fromCharCode(h[156]!);
    let size = numberField(h, 124, 12, "size", fail);
    const paxSize = pax.get("size") ?? globalPax.get("size");
    if (paxSize !== undefined && type !== "x" && type !== "g") {
      // A negative size would step back onto the same header forever; a non-number would end the loop.
      if (!/^[0-9]+$/.test(paxSize)) fail(`bad pax size '${paxSize}' (expected a decimal byte count)`);
      size = Number(paxSize);
    }
    if (!Number.isSafeInteger(size)) fail(`impossible member size ${size}`);
    const start = off + BLOCK;
    if (start + size > total)
      throw new UserError(
        `${file}: truncated tar archive at byte offset ${off}: a member needs ${size} bytes, ${total - start} remain`,
      );
    // The header's fields are read before the data is asked for (a driver may reuse the header's bytes).
    const name = type === "0" || type === "\0" || type === "7" ? headerName(h) : undefined;
    if (type === "L") longName = cString(yield { read: start, length: size });
    else if (type === "x") pax = paxRecords(yield { read: start, length: size }, fail);
    else if (type === "g")
      for (const [k, v] of paxRecords(yield { read: start, length: size }, fail)) globalPax.set(k, v);
    else {
      if (name !== undefined) {
        const data: Uint8Array = yield { read: start, length: size };
        yield {
          member: { name: pax.get("path") ?? longName ?? globalPax.get("path") ?? name, offset: off, data },
        };
      }
      longName = undefined;
      pax = new Map();
    }
    off = start + Math.ceil(size / BLOCK) * BLOCK;
  }
}

/** A regular file's name from its header (with ustar's prefix). */
function headerName(h: Uint8Array): string {
  const name = cString(h.subarray(0, 100));
  // Only POSIX ustar ("ustar\0") has a name prefix; old GNU headers keep times in those bytes.
  const posix = latin.decode(h.subarray(257, 262)) === "ustar" && h[262] === 0;
  const prefix = posix ? cString(h.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

/** The regular files of a tar archive in order; `file` names the archive in errors. Data are views. */
export function readTar(bytes: Uint8Array, file: string): TarMember[] {
  const members: TarMember[] = [];
  const parser = parseTar(file, bytes.length);
  let step = parser.next();
  while (!step.done) {
    const v = step.value;
    if ("member" in v) {
      members.push(v.member);
      step = parser.next();
    } else step = parser.next(bytes.subarray(v.read, v.read + v.length));
  }
  return members;
}

/**
 * The regular files of a tar archive on disk, read as a stream: in `window`-sized reads (default 1 MiB),
 * so memory stays at one window and one member whatever the archive's size. Each member's data is its own
 * copy (the window is reused).
 */
export async function* streamTar(file: string, opts: { window?: number } = {}): AsyncGenerator<TarMember> {
  const fh = await open(file, "r").catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read shard ${file}: ${e.code ?? e.message}`);
  });
  try {
    const total = (await fh.stat()).size;
    const window = new Uint8Array(Math.max(BLOCK, opts.window ?? 1 << 20));
    let windowAt = 0;
    let windowLength = 0;
    const read = async (at: number, length: number, copy: boolean): Promise<Uint8Array> => {
      if (at < windowAt || at + length > windowAt + windowLength) {
        if (length > window.length) {
          const out = new Uint8Array(length);
          await readFully(fh, out, at);
          return out;
        }
        windowAt = at;
        windowLength = Math.min(window.length, total - at);
        await readFully(fh, window.subarray(0, windowLength), at);
      }
      const view = window.subarray(at - windowAt, at - windowAt + length);
      return copy ? view.slice() : view;
    };
    const parser = parseTar(file, total);
    let step = parser.next();
    while (!step.done) {
      const v = step.value;
      if ("member" in v) {
        yield v.member;
        step = parser.next();
      } else step = parser.next(await read(v.read, v.length, !v.header));
    }
  } finally {
    await fh.close();
  }
}

async function readFully(fh: FileHandle, into: Uint8Array, at: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, at + done);
    if (bytesRead === 0) throw new UserError(`unexpected end of file at byte ${at + done}`);
    done += bytesRead;
  }
}
