/**
 * The one entry point for reading a data set: openDataset detects the format from the path (extension,
 * file names, folder layout) unless `format` says it, and hands over to the reader for that format.
 */
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { UserError } from "../util/errors.js";
import { cifarBatches, isCifarBatchName, readCifar10, streamCifar10 } from "./cifar.js";
import { looksLikeImageFolder, readImageFolder, streamImageFolder } from "./folder.js";
import { type ManifestFormat, readManifest, streamManifest } from "./manifest.js";
import { isIdxImagesName, mnistImageFiles, readMnist } from "./mnist.js";
import { type DatasetFormat, type DatasetOptions, FORMATS } from "./options.js";
import type { Sample, SkipLog } from "./types.js";
import { expandBraces, readWebDataset, streamWebDataset } from "./webdataset.js";

const MANIFEST_EXTS: Record<string, ManifestFormat> = {
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".csv": "csv",
  ".tsv": "tsv",
  ".tab": "tsv",
};

export const SUPPORTED = [
  "JSONL/CSV/TSV manifests (.jsonl, .ndjson, .csv, .tsv) with image, text and optional label fields",
  "a folder holding train.jsonl/test.jsonl (or .csv/.tsv) manifests",
  "image folders: <root>/<class>/*.jpg|jpeg|png|webp|gif",
  "WebDataset shards: a .tar file, a folder of .tar files, or a pattern like shard-{000..009}.tar",
  "CIFAR-10 binary batches: data_batch_<n>.bin, test_batch.bin, or their folder",
  "MNIST IDX files: *-images-idx3-ubyte(.gz) beside *-labels-idx1-ubyte(.gz), or their folder",
].join("\n  ");

interface Plan {
  format: DatasetFormat;
  files: string[];
}

function unsupported(path: string, why: string): UserError {
  return new UserError(`${path}: ${why}; supported data sets:\n  ${SUPPORTED}`);
}

/** The format a data file's name says (manifest extension, .tar, CIFAR-10 batch, MNIST images), if any. */
export function formatFromName(path: string): DatasetFormat | undefined {
  const name = basename(path);
  const manifest = MANIFEST_EXTS[extname(name).toLowerCase()];
  if (manifest) return manifest;
  if (name.toLowerCase().endsWith(".tar")) return "webdataset";
  if (isCifarBatchName(name)) return "cifar10";
  if (isIdxImagesName(name)) return "mnist";
  return undefined;
}

function planFile(path: string, forced: DatasetFormat | undefined): Plan {
  const name = basename(path);
  const format = forced ?? formatFromName(name);
  if (!format) {
    if (/idx1-ubyte(\.gz)?$/.test(name))
      throw new UserError(
        `${path}: this is an IDX labels file; give the images file (*-images-idx3-ubyte) instead`,
      );
    else throw unsupported(path, "cannot tell the format from the file name (use format/--format to say it)");
  }
  if (format === "folder") throw new UserError(`${path}: format 'folder' needs a folder, this is a file`);
  return { format, files: [path] };
}

async function planFolder(dir: string, opts: DatasetOptions): Promise<Plan> {
  const names = (await readdir(dir)).sort();
  const split = opts.split ?? "train";
  const tars = names.filter((n) => n.toLowerCase().endsWith(".tar")).map((n) => join(dir, n));
  const manifests = Object.entries(MANIFEST_EXTS).filter(([ext]) => names.includes(`${split}${ext}`));
  const detect = async (): Promise<DatasetFormat | undefined> => {
    if (manifests.length > 0) return manifests[0]![1];
    if (names.some(isCifarBatchName)) return "cifar10";
    if (names.some(isIdxImagesName)) return "mnist";
    if (tars.length > 0) return "webdataset";
    if (await looksLikeImageFolder(dir)) return "folder";
    return undefined;
  };
  const format = opts.format ?? (await detect());
  switch (format) {
    case undefined:
      throw unsupported(dir, "cannot tell what data set this folder holds");
    case "cifar10":
      return { format, files: cifarBatches(dir, names, split) };
    case "mnist":
      return { format, files: mnistImageFiles(dir, names, split) };
    case "webdataset":
      if (tars.length === 0) throw new UserError(`${dir}: no .tar shards in this folder`);
      return { format, files: tars };
    case "folder":
      return { format, files: [dir] };
    default: {
      const ext = manifests.find(([, f]) => f === format)?.[0] ?? `.${format}`;
      const file = join(dir, `${split}${ext}`);
      if (!existsSync(file)) throw new UserError(`${dir}: no ${split}${ext} manifest in this folder`);
      return { format, files: [file] };
    }
  }
}

async function plan(path: string, opts: DatasetOptions): Promise<Plan> {
  if (opts.format !== undefined && !FORMATS.includes(opts.format))
    throw new UserError(`unknown format '${opts.format}'; choose one of: ${FORMATS.join(", ")}`);
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) return planFolder(path, opts);
  if (info) return planFile(path, opts.format);
  const shards = expandBraces(path);
  if (shards.length > 1 || shards[0] !== path) {
    const missing = shards.filter((s) => !existsSync(s));
    if (missing.length > 0)
      throw new UserError(
        `${path}: ${missing.length} of ${shards.length} shards are missing, e.g. ${missing[0]}`,
      );
    return { format: opts.format ?? "webdataset", files: shards };
  }
  throw new UserError(`${path}: no such file or folder`);
}

/**
 * Read a data set into samples (images referenced, not decoded). Bad rows/records go to `log` (fatal when
 * it is strict); unreadable or damaged files and unknown formats are UserErrors.
 */
export async function openDataset(path: string, opts: DatasetOptions, log: SkipLog): Promise<Sample[]> {
  const { format, files } = await plan(path, opts);
  switch (format) {
    case "jsonl":
    case "csv":
    case "tsv":
      return readManifest(files[0]!, format, opts, log);
    case "folder":
      return readImageFolder(files[0]!, opts, log);
    case "webdataset":
      return readWebDataset(files, opts, log);
    case "cifar10":
      return readCifar10(files, opts, log);
    case "mnist":
      return readMnist(files, opts, log);
  }
}

/**
 * A data set's samples as a stream, so memory does not grow with it: WebDataset shards member by member,
 * manifests row by row (JSONL line by line, CSV and TSV record by record), image folders class folder by
 * class folder, CIFAR-10 batches record by record (read by offset); MNIST's IDX files (47 MB) are read
 * whole. `order` reorders the files of a shard set (an epoch's
 * seeded order, see shuffle.ts's shardOrder).
 */
export async function* streamDataset(
  path: string,
  opts: DatasetOptions,
  log: SkipLog,
  order?: (shards: string[]) => string[],
): AsyncGenerator<Sample> {
  const { format, files } = await plan(path, opts);
  if (format === "webdataset") yield* streamWebDataset(order?.(files) ?? files, opts, log);
  else if (format === "jsonl" || format === "csv" || format === "tsv")
    yield* streamManifest(files[0] as string, opts, log, format);
  else if (format === "folder") yield* streamImageFolder(files[0] as string, opts, log);
  else if (format === "cifar10") yield* streamCifar10(files, opts, log);
  else yield* await openDataset(path, opts, log);
}
