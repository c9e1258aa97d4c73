/**
 * MNIST-style IDX files (MNIST, Fashion-MNIST): an images file (magic 2051, count × rows × cols bytes) and
 * its labels file (magic 2049, one byte each), plain or gzipped, turned into grayscale raw images. Sizes in
 * the headers are checked against the file lengths, so a truncated download is reported, not misread.
 *
 * Class names, first found: `classes`; a classes.txt beside the images file (one name a line, as
 * `juxta data fashion-mnist` writes it); Fashion-MNIST's ten names when the folder's name says
 * "fashion" (Debian's /usr/share/datasets/fashion-mnist); else the digits 0–9. Named classes get the
 * caption template "a photo of a {label}.", digits "a photo of the number {label}.".
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createGunzip } from "node:zlib";
import { UserError } from "../util/errors.js";
import { applyTemplate, checkTemplate, type DatasetOptions, DEFAULT_TEMPLATE } from "./options.js";
import type { Sample, SkipLog } from "./types.js";

export const MNIST_TEMPLATE = "a photo of the number {label}.";
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

/** Zalando's class names by label index (github.com/zalandoresearch/fashion-mnist, "Labels"). */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** The file beside IDX files that names their classes, one a line in label order. */
export const CLASSES_FILE = "classes.txt";

export function isIdxImagesName(name: string): boolean {
  return /idx3-ubyte(\.gz)?$/.test(name);
}

/** The images files of an MNIST folder for a split: `train-*` or `t10k-*` / `test-*`. */
export function mnistImageFiles(dir: string, names: string[], split: "train" | "test"): string[] {
  const prefix = split === "train" ? /^train/ : /^(t10k|test)/;
  const chosen = names.filter((n) => isIdxImagesName(n) && prefix.test(n)).sort();
  if (chosen.length === 0) throw new UserError(`${dir}: no MNIST ${split} images file (*-images-idx3-ubyte)`);
  // One file: a folder often holds both `x` and `x.gz`, and sorting puts the plain one first.
  return chosen.slice(0, 1).map((n) => join(dir, n));
}

/** `train-images-idx3-ubyte(.gz)` → the `train-labels-idx1-ubyte(.gz)` beside it. */
export function labelsFileFor(images: string): string {
  const name = basename(images).replace("images", "labels").replace("idx3", "idx1");
  const plain = join(dirname(images), name);
  for (const candidate of [plain, plain.replace(/\.gz$/, ""), `${plain}.gz`])
    if (existsSync(candidate)) return candidate;
  throw new UserError(`${images}: its labels file ${plain} is missing`);
}

/** The largest IDX file accepted: far above MNIST's 47 MB, far below what would exhaust memory. */
export const MAX_IDX_BYTES = 1 << 30;

/** The byte length an IDX header declares (magic, dims, then one byte per element), if it is all there. */
function declaredIdxBytes(head: Uint8Array, dims: number): number | undefined {
  const need = 4 + 4 * dims;
  if (head.length < need) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let n = 1;
  for (let i = 0; i < dims; i++) n *= view.getUint32(4 + 4 * i);
  return need + n;
}

/**
 * A file's bytes, inflated if gzipped. Inflation stops as soon as the output passes the size the IDX
 * header (the first inflated bytes) declares, or MAX_IDX_BYTES: a small .gz must not inflate to gigabytes
 * before it is refused (a gzip bomb).
 */
async function readMaybeGzip(file: string, dims: number): Promise<Uint8Array> {
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read ${file}: ${e.code ?? e.message}`);
  });
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const chunks: Buffer[] = [];
  let total = 0;
  let cap: number | undefined;
  const inflate = createGunzip();
  try {
    await new Promise<void>((done, failed) => {
      inflate.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        total += chunk.length;
        cap ??= declaredIdxBytes(chunks.length === 1 ? chunk : Buffer.concat(chunks), dims);
        if (cap !== undefined && cap > MAX_IDX_BYTES) {
          inflate.destroy();
          failed(
            new UserError(
              `${file}: its IDX header declares ${cap} bytes, more than the limit of ${MAX_IDX_BYTES}`,
            ),
          );
        } else if (total > (cap ?? MAX_IDX_BYTES)) {
          inflate.destroy();
          failed(
            new UserError(
              `${file}: inflates past the ${cap ?? MAX_IDX_BYTES} bytes its IDX header declares; refused ` +
                "(damaged, or a gzip bomb)",
            ),
          );
        }
      });
      inflate.on("end", done);
      inflate.on("error", (e) => failed(new UserError(`${file}: broken gzip data: ${e.message}`)));
      inflate.end(bytes);
    });
  } finally {
    inflate.destroy();
  }
  return Buffer.concat(chunks, total);
}

function header(bytes: Uint8Array, file: string, magic: number, dims: number): number[] {
  const need = 4 + 4 * dims;
  if (bytes.length < need)
    throw new UserError(`${file}: truncated IDX file: ${bytes.length} bytes, the header needs ${need}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0);
  if (got !== magic)
    throw new UserError(
      `${file}: not an IDX ${dims === 3 ? "images" : "labels"} file (magic ${got}, expected ${magic})`,
    );
  const shape = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = need + shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== expected)
    throw new UserError(
      `${file}: IDX size mismatch: the header (${shape.join(" × ")}) means ${expected} bytes, the file has ` +
        `${bytes.length}${bytes.length < expected ? ` (truncated at byte offset ${bytes.length})` : ""}`,
    );
  return shape;
}

/** An IDX file's shape and bytes (header included), checked: magic, dimensions and length. */
export async function readIdx(
  file: string,
  kind: "images" | "labels",
): Promise<{ shape: number[]; bytes: Uint8Array }> {
  const dims = kind === "images" ? 3 : 1;
  const bytes = await readMaybeGzip(file, dims);
  return { shape: header(bytes, file, kind === "images" ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC, dims), bytes };
}

/** An images file's pixels and its labels file's labels, checked to pair up. */
export async function readIdxPair(imagesFile: string): Promise<{
  count: number;
  rows: number;
  cols: number;
  /** count × rows × cols bytes. */
  pixels: Uint8Array;
  labels: Uint8Array;
  labelsFile: string;
}> {
  const labelsFile = labelsFileFor(imagesFile);
  const images = await readIdx(imagesFile, "images");
  const labels = await readIdx(labelsFile, "labels");
  const [count, rows, cols] = images.shape as [number, number, number];
  const [labelCount] = labels.shape as [number];
  if (labelCount !== count)
    throw new UserError(`${labelsFile}: has ${labelCount} labels but ${imagesFile} has ${count} images`);
  return {
    count,
    rows,
    cols,
    pixels: images.bytes.subarray(16),
    labels: labels.bytes.subarray(8),
    labelsFile,
  };
}

/** The class names of an IDX images file (see the file comment for the order they are looked for in). */
export async function mnistClasses(imagesFile: string, opts: DatasetOptions): Promise<string[]> {
  if (opts.classes) return opts.classes;
  const dir = dirname(imagesFile);
  const listed = join(dir, CLASSES_FILE);
  if (existsSync(listed)) {
    const names = (await readFile(listed, "utf8"))
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (names.length === 0) throw new UserError(`${listed}: no class names in it`);
    return names;
  }
  if (/fashion/i.test(basename(dir))) return FASHION_MNIST_CLASSES;
  return Array.from({ length: 10 }, (_, i) => String(i));
}

export async function readMnist(imageFiles: string[], opts: DatasetOptions, log: SkipLog): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const file of imageFiles) {
    const classes = await mnistClasses(file, opts);
    const digits = classes.every((c, i) => c === String(i));
    const template = checkTemplate(opts.template ?? (digits ? MNIST_TEMPLATE : DEFAULT_TEMPLATE));
    const { count, rows, cols, pixels: images, labels } = await readIdxPair(file);
    const size = rows * cols;
    for (let i = 0; i < count; i++) {
      const origin = { file, line: i + 1 };
      const index = labels[i]!;
      const label = classes[index];
      if (label === undefined) {
        log.add(origin, `label out of range: ${index}, there are ${classes.length} classes`);
        continue;
      }
      const pixels = images.subarray(i * size, (i + 1) * size);
      samples.push({
        image: { kind: "raw", width: cols, height: rows, channels: 1, pixels },
        text: applyTemplate(template, label),
        label,
        origin,
      });
    }
  }
  return samples;
}
