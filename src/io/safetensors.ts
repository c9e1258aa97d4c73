/**
 * Reader and writer for the safetensors format: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {key: value}}`, then one byte buffer.
 * Everything the header claims is checked against the file before any data is used.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { endianness } from "node:os";
import { inputError, jsonErrorMessage, UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fs.js";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half.js";

/** The element types this module reads and writes. */
export type SafetensorsDtype = "F32" | "F64" | "F16" | "BF16" | "I64" | "I32" | "U8" | "BOOL";

/** In-memory data for each dtype. F16 and BF16 live in memory as float32; BOOL is one byte of 0 or 1. */
export interface SafetensorsData {
  F32: Float32Array;
  F64: Float64Array;
  F16: Float32Array;
  BF16: Float32Array;
  I64: BigInt64Array;
  I32: Int32Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

/** A tensor to write: `data` holds product(shape) elements in row-major order. */
export type SafetensorsInput = {
  [D in SafetensorsDtype]: { dtype: D; shape: readonly number[]; data: SafetensorsData[D] };
}[SafetensorsDtype];

/** The dtype a tensor has in memory after reading: F16 and BF16 come back widened to F32. */
export type LoadedDtype = Exclude<SafetensorsDtype, "F16" | "BF16">;

/** A tensor read from a file; `stored` is the dtype in the file (differs from `dtype` for F16/BF16). */
export type SafetensorsTensor = {
  [D in LoadedDtype]: { dtype: D; stored: SafetensorsDtype; shape: number[]; data: SafetensorsData[D] };
}[LoadedDtype];

export interface SafetensorsFile {
  /** In file order (by offset). */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  U8: 1,
  BOOL: 1,
};

/** Dtypes of the format that this module does not handle, so their error can say so. */
const OTHER_DTYPES = new Set([
  "I8",
  "I16",
  "U16",
  "U32",
  "U64",
  "F8_E4M3",
  "F8_E5M2",
  "F8_E8M0",
  "F4",
  "F6_E2M3",
]);
const TENSOR_KEYS = new Set(["dtype", "shape", "data_offsets"]);
/** The reference implementation refuses larger headers; so do we, before allocating a string for one. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";

function checkHost(): void {
  if (endianness() !== "LE") throw new Error("safetensors I/O assumes a little-endian host");
}

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === "string" && Object.hasOwn(DTYPE_BYTES, s);
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Writes `tensors` (and string `metadata`) to `path` atomically. Like the reference implementation,
 * the header is padded with spaces to a multiple of 8 bytes and tensors are laid out by element size,
 * largest first, then by name, so every tensor starts aligned to its element size.
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata, path));
}

/** The bytes of a safetensors file, as buffers in file order (`where` names it in errors). */
export function encodeSafetensors(
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
  where = "safetensors",
): Uint8Array[] {
  checkHost();
  const bytes = new Map(Object.entries(tensors).map(([name, t]) => [name, tensorBytes(where, name, t)]));
  const specs = Object.fromEntries(
    Object.entries(tensors).map(([name, t]) => [
      name,
      { dtype: t.dtype, shape: t.shape, byteLength: (bytes.get(name) as Uint8Array).byteLength },
    ]),
  );
  const { head, order } = safetensorsHead(specs, metadata, where);
  return [...head, ...order.map((name) => bytes.get(name) as Uint8Array)];
}

/** A tensor as a safetensors header describes it: its bytes are written after the header, in `order`. */
export interface SafetensorsSpec {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  byteLength: number;
}

/**
 * The length prefix and JSON header of a safetensors file holding these tensors, and the order their
 * bytes follow it in (widest dtype first, then by name): for writers that stream the tensors' bytes.
 */
export function safetensorsHead(
  specs: Record<string, SafetensorsSpec>,
  metadata?: Record<string, string>,
  path = "safetensors",
): { head: Uint8Array[]; order: string[] } {
  const order = Object.keys(specs).sort((a, b) => {
    const d = DTYPE_BYTES[specs[b]!.dtype] - DTYPE_BYTES[specs[a]!.dtype];
    return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
  });
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== "string")
        throw new UserError(`${path}: metadata '${k}' must be a string, got ${typeof v}`);
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const name of order) {
    const t = specs[name]!;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.byteLength] };
    offset += t.byteLength;
  }
  let json = JSON.stringify(header);
  const len = Buffer.byteLength(json, "utf8");
  json += " ".repeat((8 - (len % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json, "utf8")));
  return { head: [prefix, Buffer.from(json, "utf8")], order };
}

function tensorBytes(path: string, name: string, t: SafetensorsInput): Uint8Array {
  const where = `${path}: tensor '${name}'`;
  if (name === "" || name === METADATA_KEY) throw new UserError(`${where}: this name is reserved or empty`);
  if (!isDtype(t.dtype)) throw new UserError(`${where}: unknown dtype ${String(t.dtype)}`);
  for (const d of t.shape)
    if (!Number.isSafeInteger(d) || d < 0)
      throw new UserError(`${where}: shape [${t.shape}] must hold non-negative integers`);
  const expected = elementCount(t.shape);
  const want = t.dtype === "F16" || t.dtype === "BF16" ? Float32Array : dataClass(t.dtype);
  if (!(t.data instanceof want))
    throw new UserError(`${where}: dtype ${t.dtype} needs a ${want.name}, got ${t.data?.constructor?.name}`);
  if (t.data.length !== expected)
    throw new UserError(`${where}: shape [${t.shape}] needs ${expected} elements, data has ${t.data.length}`);
  if (t.dtype === "BOOL") {
    const bad = t.data.findIndex((v) => v > 1);
    if (bad >= 0) throw new UserError(`${where}: BOOL element ${bad} is ${t.data[bad]}, expected 0 or 1`);
  }
  const data = t.dtype === "F16" ? f32ToF16(t.data) : t.dtype === "BF16" ? f32ToBf16(t.data) : t.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

type DataClass =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | Int32ArrayConstructor
  | Uint8ArrayConstructor;

function dataClass(dtype: LoadedDtype): DataClass {
  switch (dtype) {
    case "F32":
      return Float32Array;
    case "F64":
      return Float64Array;
    case "I64":
      return BigInt64Array;
    case "I32":
      return Int32Array;
    case "U8":
    case "BOOL":
      return Uint8Array;
  }
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Reads a whole safetensors file with one read. Tensors whose bytes are aligned view the file's buffer
 * (keeping it alive while any of them is); others are copied. F16 and BF16 are widened to F32.
 * Throws a UserError naming the file (and the tensor) when anything in the file is inconsistent.
 */
export function readSafetensors(path: string): SafetensorsFile {
  checkHost();
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read safetensors file (${(e as Error).message})`);
  }
  const n = headerLength(path, buf, buf.byteLength);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(path, buf.subarray(8, dataStart), buf.byteLength - dataStart);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) tensors.set(e.name, decode(path, buf, dataStart, e));
  return { tensors, metadata };
}

/** Name → dtype (as stored) and shape of each tensor, from a safetensors header. */
export type SafetensorsHeader = Map<string, { dtype: SafetensorsDtype; shape: number[] }>;

/**
 * The header of a safetensors file, read without its tensor data (the first 8 bytes and the JSON after
 * them), with every check `readSafetensors` makes on it against the file's size: what a model's config
 * can be compared with before anything is allocated for it.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new UserError(`${path}: cannot read safetensors file (${(e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(8);
    readSync(fd, head, 0, Math.min(8, size), 0);
    const n = headerLength(path, head, size);
    const json = Buffer.alloc(n);
    if (readSync(fd, json, 0, n, 8) !== n) throw inputError({ file: path }, "header is cut short");
    const { entries } = parseHeader(path, json, size - 8 - n);
    return new Map(entries.map((e) => [e.name, { dtype: e.dtype, shape: e.shape }]));
  } finally {
    closeSync(fd);
  }
}

/** The header length from the first 8 bytes of a file of `size` bytes, checked against the file. */
function headerLength(path: string, first8: Buffer, size: number): number {
  const fail = (msg: string) => inputError({ file: path }, msg);
  if (size < 8) throw fail(`file has ${size} bytes, too short for the 8-byte header length`);
  const headerLen = first8.readBigUInt64LE(0);
  if (headerLen > BigInt(size - 8))
    throw fail(`header length ${headerLen} exceeds the ${size - 8} bytes after it (truncated file?)`);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${headerLen} is over the 100 MB limit`);
  return Number(headerLen);
}

/** The JSON header parsed, each entry checked, and the entries tiling the `dataLen`-byte data buffer. */
function parseHeader(
  path: string,
  bytes: Uint8Array,
  dataLen: number,
): { entries: Entry[]; metadata: Record<string, string> } {
  const fail = (msg: string) => inputError({ file: path }, msg);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw fail(`header is not valid UTF-8 JSON (${jsonErrorMessage(e)})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    throw fail("header must be a JSON object");
  const metadata = parseMetadata(path, (header as Record<string, unknown>)[METADATA_KEY]);
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name !== METADATA_KEY) entries.push(parseEntry(path, name, info));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | undefined;
  for (const e of entries) {
    if (e.begin < pos)
      throw fail(
        `tensor '${e.name}' bytes [${e.begin}, ${e.end}) overlap tensor '${prev!.name}' [${prev!.begin}, ${prev!.end})`,
      );
    if (e.begin > pos)
      throw fail(`tensor '${e.name}' starts at byte ${e.begin} but the previous data ends at ${pos} (gap)`);
    if (e.end > dataLen)
      throw fail(
        `tensor '${e.name}' ends at byte ${e.end}, past the ${dataLen}-byte data buffer (truncated file?)`,
      );
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) throw fail(`tensors cover ${pos} bytes but the data buffer has ${dataLen}`);
  return { entries, metadata };
}

function parseMetadata(path: string, meta: unknown): Record<string, string> {
  if (meta === undefined) return {};
  // Python writes `"__metadata__": null` when there is none.
  if (meta === null) return {};
  if (typeof meta !== "object" || Array.isArray(meta))
    throw inputError({ file: path }, "__metadata__ must be an object of strings");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== "string")
      throw inputError({ file: path }, `__metadata__ '${k}' must be a string, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

function parseEntry(path: string, name: string, info: unknown): Entry {
  const fail = (msg: string) => inputError({ file: path }, `tensor '${name}': ${msg}`);
  if (typeof info !== "object" || info === null || Array.isArray(info))
    throw fail("expected an object {dtype, shape, data_offsets}");
  const rec = info as Record<string, unknown>;
  for (const k of Object.keys(rec)) if (!TENSOR_KEYS.has(k)) throw fail(`unexpected key '${k}'`);
  const { dtype, shape, data_offsets: offsets } = rec;
  if (!isDtype(dtype)) {
    if (typeof dtype === "string" && OTHER_DTYPES.has(dtype))
      throw fail(`dtype ${dtype} is not supported (supported: ${Object.keys(DTYPE_BYTES).join(", ")})`);
    throw fail(`unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw fail(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  )
    throw fail(`data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  const count = elementCount(shape);
  const bytes = count * DTYPE_BYTES[dtype];
  if (!Number.isSafeInteger(bytes)) throw fail(`shape [${shape}] is impossibly large`);
  const [begin, end] = offsets as [number, number];
  if (end - begin !== bytes)
    throw fail(
      `shape [${shape}] of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  return { name, dtype, shape, begin, end };
}

function decode(path: string, buf: Buffer, dataStart: number, e: Entry): SafetensorsTensor {
  const size = DTYPE_BYTES[e.dtype];
  const start = buf.byteOffset + dataStart + e.begin;
  const count = (e.end - e.begin) / size;
  // A view when aligned; otherwise copy the bytes into a fresh (aligned) buffer.
  const source = start % size === 0 ? buf.buffer : buf.buffer.slice(start, start + (e.end - e.begin));
  const at = start % size === 0 ? start : 0;
  const { name, shape } = e;
  switch (e.dtype) {
    case "F16":
      return { dtype: "F32", stored: "F16", shape, data: f16ToF32(new Uint16Array(source, at, count)) };
    case "BF16":
      return { dtype: "F32", stored: "BF16", shape, data: bf16ToF32(new Uint16Array(source, at, count)) };
    case "BOOL": {
      const data = new Uint8Array(source, at, count);
      const bad = data.findIndex((v) => v > 1);
      if (bad >= 0)
        throw inputError(
          { file: path },
          `tensor '${name}': BOOL element ${bad} is ${data[bad]}, expected 0 or 1`,
        );
      return { dtype: "BOOL", stored: "BOOL", shape, data };
    }
    case "F32":
      return { dtype: "F32", stored: "F32", shape, data: new Float32Array(source, at, count) };
    case "F64":
      return { dtype: "F64", stored: "F64", shape, data: new Float64Array(source, at, count) };
    case "I64":
      return { dtype: "I64", stored: "I64", shape, data: new BigInt64Array(source, at, count) };
    case "I32":
      return { dtype: "I32", stored: "I32", shape, data: new Int32Array(source, at, count) };
    case "U8":
      return { dtype: "U8", stored: "U8", shape, data: new Uint8Array(source, at, count) };
  }
}
