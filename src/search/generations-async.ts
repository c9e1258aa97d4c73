/**
 * Index generations (generations.ts) written off the event loop: the same steps in the same order as
 * `commitGeneration`, each file operation on libuv's threads (fs/promises), so `juxta serve` keeps
 * answering while an update is written and flushed. Node-only (the browser bundle of juxta/search leaves
 * it out).
 */
import { copyFile, link, mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { ensureDir } from "../util/fs.js";
import {
  CURRENT_FILE,
  currentGeneration,
  genName,
  isStale,
  POINTER_FORMAT,
  POINTER_TMP,
  WHOLE_FILES,
} from "./generations.js";

/**
 * `commitGeneration` off the event loop: the new folder written by `write` completely and flushed, then
 * the pointer renamed over the old (the one atomic step), then the old generation removed.
 */
export async function commitGenerationAsync(
  dir: string,
  write: (folder: string) => Promise<void>,
): Promise<string> {
  ensureDir(dir);
  const current = currentGeneration(dir);
  for (const name of await readdir(dir))
    if (isStale(name, current)) await rm(join(dir, name), { recursive: true, force: true });
  const next = current + 1;
  const folder = join(dir, genName(next));
  await mkdir(folder);
  try {
    await write(folder);
    await syncDirAsync(folder);
  } catch (e) {
    await rm(folder, { recursive: true, force: true });
    throw e;
  }
  // The one atomic step: before this rename the old generation is the index, after it the new one.
  const tmp = join(dir, POINTER_TMP);
  await writeNewFileAsync(tmp, `${JSON.stringify({ format: POINTER_FORMAT, generation: next })}\n`);
  await rename(tmp, join(dir, CURRENT_FILE));
  await syncDirAsync(dir);
  if (current > 0) await rm(join(dir, genName(current)), { recursive: true, force: true });
  else for (const f of WHOLE_FILES) await rm(join(dir, f), { force: true });
  return folder;
}

/**
 * Put a file of the previous generation into the new one unchanged: a hard link (no bytes copied; the
 * file is never written again, so both generations may share it), or a flushed copy where the file
 * system has no hard links.
 */
export async function linkIntoGeneration(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EXDEV" && code !== "EPERM" && code !== "ENOTSUP" && code !== "EMLINK") throw e;
    await copyFile(from, to);
    const fh = await open(to, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** `writeNewFile` off the event loop. */
export async function writeNewFileAsync(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const fh = await open(path, "wx");
  try {
    let off = 0;
    while (off < bytes.byteLength) off += (await fh.write(bytes, off, bytes.byteLength - off)).bytesWritten;
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDirAsync(dir: string): Promise<void> {
  try {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Best effort, as syncDir.
  }
}
