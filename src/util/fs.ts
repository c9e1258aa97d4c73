/**
 * File writes that never leave a half-written file behind (checkpoints, configs, reports), and
 * append-only JSON-lines logs (training metrics).
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  writevSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "./errors.js";

/** Bytes to write: text (UTF-8), one buffer, or several buffers written in order without joining them. */
export type FileData = string | Uint8Array | readonly Uint8Array[];

/**
 * Writes `data` to a temporary file next to `path`, flushes it to disk, then renames it over `path`,
 * so readers see either the old file or the complete new one. On any failure the temporary file is
 * removed and the old file is left as it was.
 */
export function writeFileAtomic(path: string, data: FileData): void {
  const file = AtomicFile.create(path);
  try {
    const chunks = typeof data === "string" ? [Buffer.from(data, "utf8")] : isBytes(data) ? [data] : data;
    for (const chunk of chunks) file.write(chunk);
  } catch (e) {
    file.abort();
    throw e;
  }
  file.commit();
}

/**
 * A file written piece by piece under a temporary name next to `path` and renamed over it by `commit`,
 * as `writeFileAtomic` writes one: for outputs too large to hold (streamed embeddings). Until `commit`
 * readers see the old file or none; `abort` (or a crash) leaves nothing at `path`.
 */
export class AtomicFile {
  private closed = false;
  /** Bytes appended so far. */
  size = 0;

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly fd: number,
  ) {}

  static create(path: string): AtomicFile {
    // Same folder: rename is atomic only within one file system.
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomHex(6)}.tmp`);
    try {
      return new AtomicFile(path, tmp, openSync(tmp, "wx+"));
    } catch (e) {
      throw writeError(path, e);
    }
  }

  /** Append `chunk`. */
  write(chunk: Uint8Array): void {
    this.guard(() => writeAll(this.fd, chunk));
    this.size += chunk.byteLength;
  }

  /** Overwrite bytes already written, from `offset` (a header whose counts are known only at the end). */
  writeAt(offset: number, chunk: Uint8Array): void {
    if (offset + chunk.byteLength > this.size)
      throw new Error(`writeAt: ${offset}+${chunk.byteLength} runs past the ${this.size} bytes written`);
    this.guard(() => writeAll(this.fd, chunk, offset));
  }

  /** Read back `length` bytes written from `offset`. */
  readAt(offset: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let done = 0;
    this.guard(() => {
      while (done < length) {
        const n = readSync(this.fd, buf, done, length - done, offset + done);
        if (n <= 0) break;
        done += n;
      }
    });
    return buf.subarray(0, done);
  }

  /** Flush to disk and rename over `path`. */
  commit(): void {
    this.guard(() => {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.closed = true;
      renameSync(this.tmp, this.path);
    });
    syncDir(dirname(this.path));
    removeStaleTemps(this.path);
  }

  /** Give up: the temporary file is removed and `path` left as it was. */
  abort(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
    rmSync(this.tmp, { force: true });
  }

  private guard(run: () => void): void {
    try {
      run();
    } catch (e) {
      this.abort();
      throw writeError(this.path, e);
    }
  }
}

/**
 * Removes the temp files that writers of `path` killed before their rename left behind (they can be as
 * large as a checkpoint). Only those of processes that no longer exist: a live writer keeps its own.
 */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!m || processAlive(Number(m[1]))) continue;
    rmSync(join(dir, name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Errno codes of a failed file-system call that the user can act on, in words. */
const REASONS: Record<string, string> = {
  ENOENT: "no such file or folder",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "it is a folder",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device (the disk is full)",
  EDQUOT: "disk quota exceeded",
  EEXIST: "it already exists",
  ENAMETOOLONG: "the name is too long",
  EMFILE: "too many open files",
  EIO: "input/output error",
  ENOTEMPTY: "a folder of that name is in the way",
};

/** A Node system error (one with an errno code such as ENOENT), as opposed to a bug. */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException & { code: string } {
  return (
    e instanceof Error &&
    typeof (e as NodeJS.ErrnoException).code === "string" &&
    /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code!)
  );
}

/** "no such file or folder (ENOENT)": a system error's reason in words, with its code. */
export function systemErrorReason(e: NodeJS.ErrnoException & { code: string }): string {
  const words = REASONS[e.code];
  return words ? `${words} (${e.code})` : e.message;
}

/** One line for a failed file-system call: "open out/x.npy: no such file or folder (ENOENT)". */
export function systemErrorLine(e: NodeJS.ErrnoException & { code: string }): string {
  const what = [e.syscall, e.path].filter((x) => x !== undefined).join(" ");
  return `${what ? `${what}: ` : ""}${systemErrorReason(e)}`;
}

/** A failed write of `path` as one UserError naming the file the user asked for (never the temp file). */
function writeError(path: string, e: unknown): unknown {
  if (!isSystemError(e)) return e;
  const dir = dirname(path);
  const reason =
    e.code !== "ENOENT"
      ? systemErrorReason(e)
      : existsSync(dir)
        ? `the file system refuses new files in ${dir} (ENOENT)`
        : `its folder ${dir} does not exist (ENOENT)`;
  const err = new UserError(`cannot write ${path}: ${reason}`);
  (err as NodeJS.ErrnoException).code = e.code;
  return err;
}

/**
 * `mkdir -p` that fails with one line instead of looping: Node's recursive mkdir spins forever at 100 %
 * CPU where the file system refuses a new folder with ENOENT (/proc/sys/x).
 */
export function ensureDir(dir: string): void {
  // The usual cases first: the parent exists (one mkdir), or the folder does.
  try {
    mkdirSync(dir);
    return;
  } catch (e) {
    if (!isSystemError(e)) throw e;
    if (e.code === "EEXIST" && statSync(dir).isDirectory()) return;
  }
  const missing: string[] = [];
  let d = resolve(dir);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(d).isDirectory();
    } catch (e) {
      // ENOTDIR: a file further up is in the way, which the walk up finds and names.
      if (!isSystemError(e) || (e.code !== "ENOENT" && e.code !== "ENOTDIR")) throw folderError(dir, e);
      missing.push(d);
      const up = dirname(d);
      if (up === d) break;
      d = up;
      continue;
    }
    if (!isDir) throw new UserError(`cannot create folder ${dir}: ${d} is a file, not a folder`);
    break;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if (isSystemError(e) && e.code === "EEXIST" && statSync(m).isDirectory()) continue;
      if (isSystemError(e) && e.code === "ENOENT")
        throw new UserError(
          `cannot create folder ${dir}: the file system refuses new folders in ${dirname(m)}`,
        );
      throw folderError(dir, e);
    }
  }
}

function folderError(dir: string, e: unknown): unknown {
  return isSystemError(e) ? new UserError(`cannot create folder ${dir}: ${systemErrorReason(e)}`) : e;
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
  try {
    appendFileSync(path, `${JSON.stringify(obj)}\n`);
  } catch (e) {
    throw writeError(path, e);
  }
}

/** Web Crypto, not node:crypto: the tokenizer's browser bundle pulls this module in. */
function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
}

function isBytes(data: Uint8Array | readonly Uint8Array[]): data is Uint8Array {
  return data instanceof Uint8Array;
}

/** Write all of `chunk`, at the file's position or from `position`. */
function writeAll(fd: number, chunk: Uint8Array, position?: number): void {
  let done = 0;
  while (done < chunk.byteLength) {
    const at = position === undefined ? null : position + done;
    const n = writeSync(fd, chunk, done, chunk.byteLength - done, at);
    // A file system that accepts nothing (and says no error) would otherwise loop here forever.
    if (n <= 0) throw Object.assign(new Error("the file system accepted no bytes"), { code: "EIO" });
    done += n;
  }
}

/**
 * Writes a file that does not exist yet and flushes it to disk, with no temporary name: for files inside a
 * new folder that no reader looks at until one atomic step (a rename) makes the folder current (checkpoint
 * and index generations). Several buffers go out in one `writev` call per 1024 of them.
 */
export function writeNewFile(path: string, data: FileData): void {
  const chunks = typeof data === "string" ? [Buffer.from(data, "utf8")] : isBytes(data) ? [data] : [...data];
  const fd = openSync(path, "wx");
  try {
    const left = chunks.filter((c) => c.byteLength > 0);
    while (left.length > 0) {
      let n = writevSync(fd, left.slice(0, 1024));
      if (n <= 0) throw Object.assign(new Error("the file system accepted no bytes"), { code: "EIO" });
      // Drop what was written; a partial write continues inside its buffer.
      while (n > 0) {
        const c = left[0] as Uint8Array;
        if (n >= c.byteLength) {
          n -= c.byteLength;
          left.shift();
        } else {
          left[0] = c.subarray(n);
          n = 0;
        }
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a folder's entries (a rename) durable; some platforms cannot open or sync a folder, which is harmless. */
export function syncDir(dir: string): void {
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
