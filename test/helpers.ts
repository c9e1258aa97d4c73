/** Shared test utilities: where the project and the shared reference data live. */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Project root (tests run from dist/test/…, sources live in test/…). */
export const projectRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
})();

/** `../shared/data` next to the project root: reference data tests may read (never copied in). */
export const sharedData = resolve(projectRoot, "..", "shared", "data");

/** Returns a skip reason (for node:test's `skip` option) when a shared data folder is absent. */
export function needsShared(sub: string): string | false {
  const p = join(sharedData, sub);
  return existsSync(p)
    ? false
    : `skipped: ${p} is absent (shared reference data beside the project, see README)`;
}
