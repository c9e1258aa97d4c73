/** The README's examples import only names the package really exports (they run against `juxta` itself). */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { projectRoot } from "./helpers.js";

test("every name the examples import from 'juxta' is exported by the package", async () => {
  const api = (await import("juxta")) as Record<string, unknown>;
  const dir = join(projectRoot, "examples");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".mjs"))) {
    const source = readFileSync(join(dir, file), "utf8");
    const m = /import \{([^}]+)\} from "juxta"/.exec(source);
    assert.ok(m, `${file} imports from "juxta"`);
    for (const name of m[1]!
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean))
      assert.ok(name in api, `${file}: '${name}' is not exported by juxta`);
  }
});
