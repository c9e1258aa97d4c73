/**
 * One model repository in the Hugging Face cache, in the layout Python's huggingface_hub writes and reads:
 *
 *   models--org--name/
 *     blobs/<etag>                      file contents, named by their Hub etag (sha256 for LFS, git sha1 else)
 *     blobs/<etag>.incomplete           a download in progress (resumed with an HTTP Range request)
 *     snapshots/<commit>/<file>         relative symlinks into blobs/ (copies where symlinks fail)
 *     refs/<revision>                   the commit a branch or tag pointed to when last resolved
 *
 * A snapshot folder is an ordinary model folder, so it is what the resolver hands to `openModel`.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import { COMMIT } from "./names.js";

export class RepoCache {
  readonly dir: string;

  constructor(cacheDir: string, repo: string) {
    this.dir = join(cacheDir, `models--${repo.replaceAll("/", "--")}`);
  }

  /** The commit a revision names: itself if it is one, else what `refs/<revision>` says (if cached). */
  commitOf(revision: string): string | undefined {
    if (COMMIT.test(revision)) return revision;
    const ref = join(this.dir, "refs", revision);
    if (!existsSync(ref)) return undefined;
    const commit = readFileSync(ref, "utf8").trim();
    return COMMIT.test(commit) ? commit : undefined;
  }

  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const ref = join(this.dir, "refs", revision);
    ensureDir(dirname(ref));
    writeFileAtomic(ref, commit);
  }

  snapshot(commit: string): string {
    return join(this.dir, "snapshots", commit);
  }

  /** Files present in a snapshot (relative paths; dangling links left out). */
  files(commit: string): string[] {
    const dir = this.snapshot(commit);
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true, encoding: "utf8" })
      .map((f) => f.split("\\").join("/"))
      .filter((f) => isFile(join(dir, f)));
  }

  blob(etag: string): string {
    return join(this.dir, "blobs", etag);
  }

  /** Puts `file` into the commit's snapshot as a relative link to its blob (a copy where links fail). */
  link(commit: string, file: string, etag: string): void {
    const target = join(this.snapshot(commit), file);
    ensureDir(dirname(target));
    rmSync(target, { force: true });
    try {
      symlinkSync(relative(dirname(target), this.blob(etag)), target);
    } catch {
      copyFileSync(this.blob(etag), target);
    }
  }
}

/** Whether a path is a file, following links (a dangling link is not). */
function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
