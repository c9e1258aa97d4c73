/**
 * What a run records about its training data so that a resume trains on the same data: the absolute path
 * and a cheap fingerprint. For a file (a manifest, a tar shard, CIFAR or MNIST files): its size, mtime and
 * the sha256 of its content (whole up to 16 MiB, else its first and last MiB). For a folder of images: the
 * sha256 of every entry's relative path, size and mtime. A resume whose data no longer matches is refused
 * in one line unless the caller accepts the change ({acceptChangedData}).
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { OptionError } from "../util/errors.js";

export interface DataFingerprint {
  path: string;
  kind: "file" | "folder";
  /** Bytes (a file) or entries (a folder). */
  size: number;
  mtimeMs: number;
  sha256: string;
}

const WHOLE = 16 * 1024 * 1024;
const EDGE = 1024 * 1024;

/** The fingerprint of `path` (absolute) as it is now. */
export function fingerprintData(path: string): DataFingerprint {
  const st = statSync(path);
  const h = createHash("sha256");
  if (st.isDirectory()) {
    const entries = listFiles(path).sort();
    for (const f of entries) {
      const s = statSync(f);
      h.update(`${relative(path, f)}\0${s.size}\0${s.mtimeMs}\n`);
    }
    return { path, kind: "folder", size: entries.length, mtimeMs: st.mtimeMs, sha256: h.digest("hex") };
  }
  const fd = openSync(path, "r");
  try {
    const read = (pos: number, len: number) => {
      const buf = Buffer.alloc(len);
      let n = 0;
      while (n < len) {
        const got = readSync(fd, buf, n, len - n, pos + n);
        if (got === 0) break;
        n += got;
      }
      h.update(buf.subarray(0, n));
    };
    if (st.size <= WHOLE) read(0, st.size);
    else {
      read(0, EDGE);
      read(st.size - EDGE, EDGE);
    }
  } finally {
    closeSync(fd);
  }
  return { path, kind: "file", size: st.size, mtimeMs: st.mtimeMs, sha256: h.digest("hex") };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

/**
 * Check the data a resume is about to read against the run's record; returns a line to print when a
 * change was accepted. Runs from before the record (no fingerprint) are not checked.
 */
export function checkData(
  recorded: DataFingerprint | undefined,
  path: string,
  accept: boolean | undefined,
): string | undefined {
  if (!recorded) return undefined;
  let now: DataFingerprint;
  try {
    now = fingerprintData(path);
  } catch {
    throw new OptionError(
      `{resume}: the run's data ${path} is gone (moved or deleted); a resume trains on the same data`,
    );
  }
  if (now.kind === recorded.kind && now.size === recorded.size && now.sha256 === recorded.sha256)
    return undefined;
  const what =
    now.kind !== recorded.kind
      ? `is now a ${now.kind}, was a ${recorded.kind}`
      : now.size !== recorded.size
        ? `${now.kind === "file" ? "holds" : "lists"} ${now.size} ${now.kind === "file" ? "bytes" : "files"}, was ${recorded.size}`
        : "has other content than when the run started";
  if (accept) return `${path} ${what}; training on it as it is now ({acceptChangedData})`;
  throw new OptionError(
    `{resume}: the run's data ${path} changed since the run started (it ${what}); pass {acceptChangedData} to train on it anyway`,
  );
}
