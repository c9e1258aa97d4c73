/**
 * Index folders as generations, so an update killed at any write or rename leaves the old index or the
 * new one, never a mix. Each update writes a complete new folder `gen-NNNNNN/` (every file flushed), then
 * makes it current by one atomic step: renaming a new `current.json` ({"generation": N}) over the old.
 * Until that rename the previous generation is current and untouched; after it the previous one is
 * removed. Folders left by an update that died before its rename are removed by the next update, and
 * one writer at a time holds the folder's lock.
 *
 * A folder without `current.json` is an index saved whole (VectorIndex.save into the folder itself, as
 * indexes were before generations); it stays readable, and its first update turns it into generations.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { inputError, UserError } from "../util/errors.js";
import { ensureDir } from "../util/fs.js";

export const CURRENT_FILE = "current.json";
export const POINTER_TMP = ".current.json.tmp";
export const POINTER_FORMAT = "juxta-index-generation";
const LOCK_FILE = "writer.lock";
const FORMAT = POINTER_FORMAT;
const GEN = /^gen-(\d{6,})$/;
/** The files of an index saved whole, removed from the folder's top once it holds generations. */
export const WHOLE_FILES = ["header.json", "vectors.f32", "items.jsonl", "model.json"];

export function genName(n: number): string {
  return `gen-${String(n).padStart(6, "0")}`;
}

/** The current generation's number, or 0 when `dir` holds an index saved whole (or nothing). */
export function currentGeneration(dir: string): number {
  const file = join(dir, CURRENT_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return 0;
  }
  let v: { format?: unknown; generation?: unknown };
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    throw inputError({ file }, "not valid JSON; the index pointer is corrupted");
  }
  if (v === null || typeof v !== "object" || v.format !== FORMAT)
    throw inputError({ file, field: "format" }, `expected '${FORMAT}'`);
  const n = v.generation;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1)
    throw inputError({ file, field: "generation" }, `expected an integer ≥ 1, got ${JSON.stringify(n)}`);
  if (!existsSync(join(dir, genName(n))))
    throw inputError({ file, field: "generation" }, `names ${genName(n)}, which is missing`);
  return n;
}

/** The folder that holds the current index files: the current generation's, or `dir` itself. */
export function currentFiles(dir: string): string {
  const n = currentGeneration(dir);
  return n === 0 ? dir : join(dir, genName(n));
}

/** Whether `dir` holds a generation pointer. */
export function hasGenerations(dir: string): boolean {
  return existsSync(join(dir, CURRENT_FILE));
}

/**
 * Write a new generation with `write(folder)` and make it current; returns its folder. The folder is new
 * and no reader looks at it before the pointer names it, so `write` writes its files straight (with
 * `writeNewFile` or `VectorIndex.save(folder, { fresh: true })`, each flushed); a throw leaves the
 * previous generation current. The caller holds the folder's lock (`lockIndex`).
 */
export function commitGeneration(dir: string, write: (folder: string) => void): string {
  ensureDir(dir);
  const current = currentGeneration(dir);
  removeStale(dir, current);
  const next = current + 1;
  const folder = join(dir, genName(next));
  mkdirSync(folder);
  try {
    write(folder);
    syncDir(folder);
  } catch (e) {
    rmSync(folder, { recursive: true, force: true });
    throw e;
  }
  // The one atomic step: before this rename the old generation is the index, after it the new one.
  const tmp = join(dir, POINTER_TMP);
  writeNewFile(tmp, `${JSON.stringify({ format: FORMAT, generation: next })}\n`);
  renameSync(tmp, join(dir, CURRENT_FILE));
  syncDir(dir);
  if (current > 0) rmSync(join(dir, genName(current)), { recursive: true, force: true });
  else for (const f of WHOLE_FILES) rmSync(join(dir, f), { force: true });
  return folder;
}

/** Write a file that does not exist yet and flush it to disk (no temporary name: see commitGeneration). */
export function writeNewFile(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const fd = openSync(path, "wx");
  try {
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The right to update an index folder, held from reading it to committing (or for a server's life). */
export interface IndexLock {
  release(): void;
}

/**
 * Take `dir`'s writer lock: `writer.lock`, created exclusively, holding the owner's pid. Two writers
 * would each build on the same generation and the later would drop the earlier's update, so a second one
 * is refused; a lock whose process is gone (killed) is taken over.
 */
export function lockIndex(dir: string, owner = "juxta index"): IndexLock {
  ensureDir(dir);
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      writeNewFile(file, `${JSON.stringify({ pid: process.pid, owner })}\n`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
      const held = readLock(file);
      if (held && alive(held.pid))
        throw new UserError(
          `${dir}: being updated by ${held.owner} (process ${held.pid}); ` +
            `wait for it to finish${held.owner === "juxta serve" ? ", or write through its /items routes" : ""}`,
        );
      rmSync(file, { force: true });
    }
  }
  let held = true;
  return {
    release: () => {
      if (held) rmSync(file, { force: true });
      held = false;
    },
  };
}

function readLock(file: string): { pid: number; owner: string } | undefined {
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as { pid?: unknown; owner?: unknown };
    if (typeof v.pid === "number") return { pid: v.pid, owner: String(v.owner ?? "another process") };
  } catch {
    // Unreadable: written by a process killed mid-write, so nobody holds it.
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove generations other than the current one and temporary files of killed writes. */
function removeStale(dir: string, current: number): void {
  for (const name of readdirSync(dir))
    if (isStale(name, current)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** Whether `name` in an index folder is left over: a generation other than `current`, or a temporary file. */
export function isStale(name: string, current: number): boolean {
  const m = GEN.exec(name);
  return m ? Number(m[1]) !== current : name === POINTER_TMP || /\.tmp(-\d+)?$/.test(name);
}

/** Make a folder's entries durable; some platforms cannot open or sync a folder, which is harmless. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Best effort.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
