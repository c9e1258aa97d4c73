/**
 * Image folders laid out by class (`root/<class>/*.jpg`, as torchvision's ImageFolder): the label is the
 * folder name and the caption comes from a template. Hidden files are ignored; anything else that is not an
 * image is logged as skipped.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { UserError } from "../util/errors.js";
import { applyTemplate, checkTemplate, type DatasetOptions, DEFAULT_TEMPLATE } from "./options.js";
import type { Sample, SkipLog } from "./types.js";

export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp", ".gif"];

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

async function kind(dir: string, e: Dirent): Promise<"dir" | "file" | "other"> {
  if (e.isDirectory()) return "dir";
  if (e.isFile()) return "file";
  if (!e.isSymbolicLink()) return "other";
  const s = await stat(join(dir, e.name)).catch(() => undefined);
  return s?.isDirectory() ? "dir" : s?.isFile() ? "file" : "other";
}

async function listing(dir: string): Promise<{ name: string; kind: "dir" | "file" | "other" }[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith("."));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return Promise.all(entries.map(async (e) => ({ name: e.name, kind: await kind(dir, e) })));
}

/** Whether a folder looks like `root/<class>/<images>`: some subfolder holds an image. */
export async function looksLikeImageFolder(root: string): Promise<boolean> {
  for (const e of await listing(root)) {
    if (e.kind !== "dir") continue;
    const inside = await readdir(join(root, e.name)).catch(() => []);
    if (inside.some(isImageName)) return true;
  }
  return false;
}

/**
 * An image folder's samples as a stream, class folder by class folder (in name order): memory holds one
 * folder's listing, not the whole data set's. The same samples, order, skips and errors as readImageFolder.
 */
export async function* streamImageFolder(
  root: string,
  opts: DatasetOptions,
  log: SkipLog,
): AsyncGenerator<Sample> {
  const template = checkTemplate(opts.template ?? DEFAULT_TEMPLATE);
  let found = 0;
  for (const top of await listing(root)) {
    const at = join(root, top.name);
    if (top.kind !== "dir") {
      log.add({ file: at }, "not in a class folder: images belong in <root>/<class>/");
      continue;
    }
    const label = top.name;
    const text = applyTemplate(template, label);
    for (const e of await listing(at)) {
      const file = join(at, e.name);
      if (e.kind === "dir") log.add({ file }, "nested folder: only <root>/<class>/<image> is read");
      else if (e.kind !== "file" || !isImageName(e.name))
        log.add({ file }, `unsupported file type: expected ${IMAGE_EXTENSIONS.join(", ")}`);
      else {
        found++;
        yield { image: { kind: "file", path: file }, text, label, origin: { file } };
      }
    }
  }
  if (found === 0)
    throw new UserError(`${root}: no images found in class folders (expected <root>/<class>/*.jpg|png|…)`);
}

export async function readImageFolder(root: string, opts: DatasetOptions, log: SkipLog): Promise<Sample[]> {
  const samples: Sample[] = [];
  for await (const s of streamImageFolder(root, opts, log)) samples.push(s);
  return samples;
}
