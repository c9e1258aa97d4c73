/**
 * Image sets named on the command line (`--images FILE|DIR`): a folder searched recursively for image
 * files, one image file, a `.txt` list of paths, or any data set `openDataset` reads. Each image gets a
 * stable id (its absolute path, or its record name inside a shard or binary set), which indexes and
 * embedding files store and which tells duplicate samples of one image apart from distinct images.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { formatLocation, inputError, UserError } from "../util/errors.js";
import { IMAGE_EXTENSIONS, isImageName } from "./folder.js";
import { formatFromName, openDataset, streamDataset } from "./open.js";
import type { DatasetOptions } from "./options.js";
import { SeenIds } from "./seen-ids.js";
import type { ImageRef } from "./types.js";
import { type Sample, SkipLog } from "./types.js";
import { expandBraces } from "./webdataset.js";

export interface ImageItem {
  id: string;
  ref: ImageRef;
  /** The first caption and label a data set gives this image, if any. */
  text?: string;
  label?: string;
}

/**
 * The id of a sample's image: the absolute path of a file, the record name of bytes from a shard, the
 * source location of raw pixels (CIFAR, MNIST). Samples with equal ids show the same image.
 */
export function imageId(sample: Pick<Sample, "image" | "origin">): string {
  const ref = sample.image;
  if (ref.kind === "file") return resolve(ref.path);
  if (ref.kind === "bytes") return ref.name;
  return formatLocation(sample.origin);
}

/** Read the images at `path`, one item per distinct image, in listing order. */
export async function listImages(
  path: string,
  opts: { dataset?: DatasetOptions; log?: SkipLog } = {},
): Promise<ImageItem[]> {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path);
  } catch {
    // A shard pattern such as shards-{000..009}.tar names no file itself; openDataset expands it.
    return fromDataset(path, opts);
  }
  if (info.isDirectory()) {
    const files = walk(path);
    if (files.length === 0)
      throw new UserError(`${path}: no image files (.jpg, .jpeg, .png, .webp, .gif) in this folder`);
    return files.map(fileItem);
  }
  if (isImageName(path)) return [fileItem(path)];
  if (extname(path).toLowerCase() === ".txt") return fromList(path);
  if (opts.dataset?.format === undefined && formatFromName(path) === undefined)
    throw new UserError(
      `${path}: not an image (${IMAGE_EXTENSIONS.join(", ")}), a .txt list of image paths, or a data set ` +
        "(.jsonl/.csv/.tsv manifest, .tar shards, CIFAR-10 or MNIST files)",
    );
  return fromDataset(path, opts);
}

function fileItem(path: string): ImageItem {
  const abs = resolve(path);
  return { id: abs, ref: { kind: "file", path: abs } };
}

/** Image files under `dir`, recursively, sorted by path; hidden entries are skipped. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith("."))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    const isDir =
      e.isDirectory() || (e.isSymbolicLink() && statSync(p, { throwIfNoEntry: false })?.isDirectory());
    if (isDir) out.push(...walk(p));
    else if (isImageName(e.name)) out.push(p);
  }
  return out;
}

/** One path a line, relative to the list's folder; blank lines and '#' comments are skipped. */
function fromList(file: string): ImageItem[] {
  const base = dirname(resolve(file));
  const items: ImageItem[] = [];
  const seen = new Set<string>();
  readFileSync(file, "utf8")
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const abs = resolve(base, line);
      if (!statSync(abs, { throwIfNoEntry: false })?.isFile())
        throw inputError({ file, line: i + 1 }, `image '${line}' does not exist`);
      if (seen.has(abs)) return;
      seen.add(abs);
      items.push(fileItem(abs));
    });
  if (items.length === 0) throw new UserError(`${file}: no image paths (one a line)`);
  return items;
}

async function fromDataset(
  path: string,
  opts: { dataset?: DatasetOptions; log?: SkipLog },
): Promise<ImageItem[]> {
  const samples = await openDataset(path, opts.dataset ?? {}, opts.log ?? new SkipLog());
  const byId = new Map<string, ImageItem>();
  for (const s of samples) {
    const id = imageId(s);
    const item = byId.get(id);
    if (!item) byId.set(id, { id, ref: s.image, text: s.text, label: s.label });
    else {
      item.text ??= s.text;
      item.label ??= s.label;
    }
  }
  if (byId.size === 0) throw new UserError(`${path}: no images in this data set`);
  return [...byId.values()];
}

/** Whether `path` names WebDataset shards (a .tar file or a shard pattern), which streamImages reads as a stream. */
export function isShardSet(path: string, dataset?: DatasetOptions): boolean {
  if (dataset?.format !== undefined && dataset.format !== "webdataset") return false;
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) return false;
  return formatFromName(path) === "webdataset" || expandBraces(path).length > 1;
}

/**
 * The distinct images of a data set as a stream, in listing order (as listImages gives them, without
 * holding them all): only a hash of each id seen so far is kept, to skip repeats (seen-ids.ts).
 */
export async function* streamImages(
  path: string,
  opts: { dataset?: DatasetOptions; log?: SkipLog } = {},
): AsyncGenerator<ImageItem> {
  const seen = new SeenIds();
  for await (const s of streamDataset(path, opts.dataset ?? {}, opts.log ?? new SkipLog())) {
    const id = imageId(s);
    if (!seen.add(id)) continue;
    yield { id, ref: s.image, text: s.text, label: s.label };
  }
  if (seen.size === 0) throw new UserError(`${path}: no images in this data set`);
}
