/**
 * Index folders as generations, so an update killed at any write or rename leaves the old index or the
 * new one, never a mix. Each update writes a complete new folder `gen-NNNNNN/` (every file flushed), then
 * makes it current by one atomic step: renaming a new `current.json` ({"generation": N}) over the old.
 * Until that rename the previous generation is current and untouched; after it the previous one is
 * removed. Folders left by an update that died before its rename are removed by the next update.
 *
 * A folder without `current.json` is an index saved whole (VectorIndex.save into the folder itself, as
 * indexes were before generations); it stays readable, and its first update turns it into generations.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { inputError } from "../util/errors.js";
import { writeJsonAtomic } from "../util/fs.js";

export const CURRENT_FILE = "current.json";
const FORMAT = "juxta-index-generation";
const GEN = /^gen-(\d{6,})$/;
/** The files of an index saved whole, removed from the folder's top once it holds generations. */
const WHOLE_FILES = ["header.json", "vectors.f32", "items.jsonl", "model.json"];

function genName(n: number): string {
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
 * Write a new generation with `write(folder)` and make it current; returns its folder. `write` must flush
 * each file it writes (VectorIndex.save and writeFileAtomic do); a throw leaves the previous one current.
 */
export function commitGeneration(dir: string, write: (folder: string) => void): string {
  mkdirSync(dir, { recursive: true });
  const current = currentGeneration(dir);
  removeStale(dir, current);
  const next = current + 1;
  const folder = join(dir, genName(next));
  mkdirSync(folder);
  try {
    write(folder);
  } catch (e) {
    rmSync(folder, { recursive: true, force: true });
    throw e;
  }
  // The one atomic step: before this rename the old generation is the index, after it the new one.
  writeJsonAtomic(join(dir, CURRENT_FILE), { format: FORMAT, generation: next });
  if (current > 0) rmSync(join(dir, genName(current)), { recursive: true, force: true });
  else for (const f of WHOLE_FILES) rmSync(join(dir, f), { force: true });
  return folder;
}

/** Remove generations other than the current one and temporary files of killed writes. */
function removeStale(dir: string, current: number): void {
  for (const name of readdirSync(dir)) {
    const m = GEN.exec(name);
    const stale = m ? Number(m[1]) !== current : /\.tmp(-\d+)?$/.test(name);
    if (stale) rmSync(join(dir, name), { recursive: true, force: true });
  }
}
