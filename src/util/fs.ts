/**
 * File writes that never leave a half-written file behind (checkpoints, configs, reports), and
 * append-only JSON-lines logs (training metrics).
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Bytes to write: text (UTF-8), one buffer, or several buffers written in order without joining them. */
export type FileData = string | Uint8Array | readonly Uint8Array[];

/**
 * Writes `data` to a temporary file next to `path`, flushes it to disk, then renames it over `path`,
 * so readers see either the old file or the complete new one. On any failure the temporary file is
 * removed and the old file is left as it was.
 */
export function writeFileAtomic(path: string, data: FileData): void {
  const dir = dirname(path);
  // Same folder: rename is atomic only within one file system.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined = openSync(tmp, "wx");
  try {
    const chunks = typeof data === "string" ? [Buffer.from(data, "utf8")] : isBytes(data) ? [data] : data;
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dir);
}

/** Writes `value` as pretty-printed JSON (plus a final newline) with {@link writeFileAtomic}. */
export function writeJsonAtomic(path: string, value: unknown, indent = 2): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, indent)}\n`);
}

/**
 * Appends `obj` as one JSON line. One `write` call on a file opened for appending, so a crash loses at
 * most the last line and never interleaves it with another. Non-finite numbers become `null` (JSON).
 */
export function appendJsonLine(path: string, obj: unknown): void {
  appendFileSync(path, `${JSON.stringify(obj)}\n`);
}

function isBytes(data: Uint8Array | readonly Uint8Array[]): data is Uint8Array {
  return data instanceof Uint8Array;
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.byteLength) done += writeSync(fd, chunk, done, chunk.byteLength - done);
}

/** Makes the rename itself durable; some platforms cannot open or sync a folder, which is harmless. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Durability of the folder entry is best effort.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
