/**
 * NumPy `.npy` files of little-endian float32 in C order (embeddings exported for Python tools):
 * writes format version 1.0; reads versions 1.0 to 3.0 and checks the header against the data.
 */
import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { inputError, UserError } from "../util/errors.js";
import { AtomicFile, writeFileAtomic } from "../util/fs.js";

const MAGIC = Buffer.from([0x93, ...Buffer.from("NUMPY", "latin1")]);
/** NumPy pads the header so that the data starts on a 64-byte boundary. */
const ALIGN = 64;
const GROWTH_DIGITS = 21;

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** Writes `data` (row-major, product(shape) elements) as a version-1.0 `.npy` file with dtype `<f4`. */
export function writeNpy(path: string, data: Float32Array, shape: readonly number[]): void {
  if (endianness() !== "LE") throw new Error(".npy I/O assumes a little-endian host");
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new UserError(`${path}: shape [${shape}] must hold non-negative integers`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new UserError(`${path}: shape [${shape}] needs ${count} elements, data has ${data.length}`);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  writeFileAtomic(path, [...npyHeader(path, shape), bytes]);
}

/**
 * A [rows, dim] float32 `.npy` file written a block of rows at a time (memory does not grow with the
 * rows) and renamed into place by `finish`. The header is written first with 0 rows and rewritten at the
 * end: NumPy's padding for a first dimension of up to 21 digits keeps its length the same.
 */
export class NpyRowWriter {
  private readonly file: AtomicFile;
  private rows = 0;

  constructor(
    readonly path: string,
    readonly dim: number,
  ) {
    if (endianness() !== "LE") throw new Error(".npy I/O assumes a little-endian host");
    this.file = AtomicFile.create(path);
    for (const chunk of npyHeader(path, [0, dim])) this.file.write(chunk);
  }

  /** Append rows (row-major, a multiple of `dim` values). */
  append(rows: Float32Array): void {
    if (rows.length % this.dim !== 0)
      throw new Error(`${this.path}: ${rows.length} values are not whole rows of ${this.dim}`);
    this.file.write(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    this.rows += rows.length / this.dim;
  }

  /** Write the final row count into the header and rename the file into place; returns the rows. */
  finish(): number {
    this.file.writeAt(0, Buffer.concat(npyHeader(this.path, [this.rows, this.dim])));
    this.file.commit();
    return this.rows;
  }

  abort(): void {
    this.file.abort();
  }
}

/** The magic, version and header dict of a version-1.0 `<f4` file of this shape, padded as NumPy pads it. */
function npyHeader(path: string, shape: readonly number[]): Buffer[] {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // NumPy leaves room for the first dimension to grow to 21 digits (appending in place); doing the same
  // makes our files byte-identical to `np.save`.
  if (shape.length > 0) dict += " ".repeat(Math.max(0, GROWTH_DIGITS - String(shape[0]).length));
  const used = MAGIC.length + 2 + 2 + dict.length + 1;
  dict += `${" ".repeat((ALIGN - (used % ALIGN)) % ALIGN)}\n`;
  if (dict.length > 0xffff) throw new UserError(`${path}: shape [${shape}] makes the header too long`);
  const head = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(head);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return [head, Buffer.from(dict, "latin1")];
}

/** Reads a `.npy` file of `<f4` in C order; anything else is a UserError naming the file. */
export function readNpy(path: string): NpyArray {
  if (endianness() !== "LE") throw new Error(".npy I/O assumes a little-endian host");
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read .npy file (${(e as Error).message})`);
  }
  const fail = (msg: string) => inputError({ file: path }, msg);
  if (buf.byteLength < 10 || !buf.subarray(0, 6).equals(MAGIC))
    throw fail("not a .npy file (bad magic bytes)");
  const major = buf[6]!;
  if (major < 1 || major > 3) throw fail(`unsupported .npy format version ${major}.${buf[7]}`);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.byteLength < 8 + lenBytes) throw fail("file is truncated inside the header");
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > buf.byteLength) throw fail(`header length ${headerLen} runs past the end of the file`);
  const header = buf.subarray(8 + lenBytes, dataStart).toString(major === 3 ? "utf8" : "latin1");
  const shape = parseHeader(header, fail);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataLen = buf.byteLength - dataStart;
  if (dataLen !== count * 4)
    throw fail(`shape [${shape}] of float32 needs ${count * 4} data bytes, the file has ${dataLen}`);
  const start = buf.byteOffset + dataStart;
  const data =
    start % 4 === 0
      ? new Float32Array(buf.buffer, start, count)
      : new Float32Array(buf.buffer.slice(start, start + dataLen));
  return { shape, data };
}

function parseHeader(header: string, fail: (msg: string) => UserError): number[] {
  const body = /^\s*\{(.*)\}\s*$/s.exec(header);
  if (!body) throw fail(`header is not a Python dict: ${JSON.stringify(header.trim())}`);
  let rest = body[1]!;
  const take = (re: RegExp, key: string): RegExpExecArray => {
    const m = re.exec(rest);
    if (!m) throw fail(`header has no valid '${key}' entry: ${JSON.stringify(header.trim())}`);
    rest = rest.replace(m[0], "");
    return m;
  };
  const descr = take(/['"]descr['"]\s*:\s*['"]([^'"]*)['"]/, "descr")[1];
  const fortran = take(/['"]fortran_order['"]\s*:\s*(True|False)/, "fortran_order")[1];
  const dims = take(/['"]shape['"]\s*:\s*\(([^)]*)\)/, "shape")[1]!;
  if (!/^[\s,]*$/.test(rest)) throw fail(`header has unexpected entries: ${JSON.stringify(header.trim())}`);
  if (descr !== "<f4") throw fail(`dtype '${descr}' is not supported (only '<f4', little-endian float32)`);
  if (fortran !== "False") throw fail("Fortran-order arrays are not supported (expected C order)");
  const parts = dims.split(",").map((s) => s.trim());
  if (parts.at(-1) === "") parts.pop();
  const shape = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : Number.NaN));
  if (!shape.every((d) => Number.isSafeInteger(d)))
    throw fail(`shape (${dims}) must hold non-negative integers`);
  return shape;
}
