/**
 * Layers in one direction: each folder of src/ sits in a layer, and a module may import from its own layer
 * or any layer below, never from above (docs/architecture.md draws the same table).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/** Lowest first. Folders on one line may import each other. */
export const LAYERS: readonly (readonly string[])[] = [
  ["util"],
  // Stand-ins for Node built-ins in browser bundles (package.json "browser").
  ["browser"],
  ["io", "engine"],
  ["nn", "text"],
  ["data", "image"],
  ["models", "losses", "optim", "search"],
  ["pretrained", "hub", "report"],
  ["handle", "export"],
  // moderate is the pipeline behind pipeline("moderation", model), beside the others.
  ["pipelines", "moderate"],
  ["eval"],
  ["train"],
  ["apps"],
  ["distributed", "serve"],
  ["bench"],
  // The entry points: the CLI, and the public API's subpath barrels (package.json "exports").
  ["cli", "api"],
];

const here = dirname(fileURLToPath(import.meta.url));
// Tests run from dist/test; the sources are two levels up.
const src = resolve(here, "..", "..", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

test("every folder of src/ has a layer, and no import runs up a layer", () => {
  const upward: string[] = [];
  for (const file of sourceFiles(src)) {
    const rel = relative(src, file);
    if (!rel.includes("/")) continue; // src/index.ts: the public entry re-exports every layer
    const folder = rel.split("/")[0] as string;
    const from = layerOf.get(folder);
    assert.notEqual(from, undefined, `src/${folder} has no layer: add it to LAYERS in test/layers.test.ts`);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from\s+|import\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = relative(src, resolve(dirname(file), m[1] as string));
      const to = layerOf.get(target.split("/")[0] as string);
      if (to !== undefined && to > (from as number)) upward.push(`src/${rel} → src/${target}`);
    }
  }
  assert.deepEqual(upward, [], `imports up a layer:\n${upward.join("\n")}`);
});
