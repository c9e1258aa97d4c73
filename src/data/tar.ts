/**
 * A reader for tar archives held in memory: ustar headers (checksums validated), pax extended headers
 * (`path`, `size`) and GNU long names. Only regular files are returned; their data are views into the
 * archive's bytes, not copies. A damaged archive is a UserError naming the file and byte offset.
 */
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

/** The regular files of a tar archive in order; `file` names the archive in errors. */
export function readTar(bytes: Uint8Array, file: string): TarMember[] {
  const members: TarMember[] = [];
  let off = 0;
  let longName: string | undefined;
  let pax = new Map<string, string>();
  const globalPax = new Map<string, string>();
  while (off < bytes.length) {
    const fail = (m: string): never => {
      throw new UserError(`${file}: corrupt tar archive at byte offset ${off}: ${m}`);
    };
    if (off + BLOCK > bytes.length)
      throw new UserError(
        `${file}: truncated tar archive at byte offset ${off}: ${bytes.length - off} bytes left, a header needs ${BLOCK}`,
      );
    const h = bytes.subarray(off, off + BLOCK);
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
    if (start + size > bytes.length)
      throw new UserError(
        `${file}: truncated tar archive at byte offset ${off}: a member needs ${size} bytes, ${bytes.length - start} remain`,
      );
    const data = bytes.subarray(start, start + size);
    if (type === "L") longName = cString(data);
    else if (type === "x") pax = paxRecords(data, fail);
    else if (type === "g") for (const [k, v] of paxRecords(data, fail)) globalPax.set(k, v);
    else {
      if (type === "0" || type === "\0" || type === "7") {
        let name = cString(h.subarray(0, 100));
        // Only POSIX ustar ("ustar\0") has a name prefix; old GNU headers keep times in those bytes.
        const posix = latin.decode(h.subarray(257, 262)) === "ustar" && h[262] === 0;
        const prefix = posix ? cString(h.subarray(345, 500)) : "";
        if (prefix) name = `${prefix}/${name}`;
        name = pax.get("path") ?? longName ?? globalPax.get("path") ?? name;
        members.push({ name, offset: off, data });
      }
      longName = undefined;
      pax = new Map();
    }
    off = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return members;
}
