/** Where the project and the shared reference folder live, found from this file (works from src and dist). */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const projectRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir)
      throw new Error("juxta: cannot find the package root above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();

/** `../shared` beside the project root (reference data and the PyTorch peer; absent for npm users). */
export const sharedDir = resolve(projectRoot, "..", "shared");
