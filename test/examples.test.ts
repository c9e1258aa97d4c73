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

test("the pipeline and search examples run against a CLIP run and an image-only encoder", async () => {
  const { execFileSync } = await import("node:child_process");
  const { colourImages, tempDir, tinyModel } = await import("./apps/fixtures.js");
  const { ImageEncoder } = await import("../src/models/image-encoder.js");
  const { saveImageEncoder } = await import("../src/models/saved.js");
  const { TINY_ENCODER } = await import("./methods/fixtures.js");
  const img = await colourImages(tempDir());
  const clip = tinyModel();
  const encoder = tempDir();
  saveImageEncoder(encoder, new ImageEncoder(structuredClone(TINY_ENCODER)).initialize(1), {
    step: 0,
    method: "simclr",
  });
  const run = (file: string, args: string[]) =>
    execFileSync(process.execPath, [join(projectRoot, "examples", file), ...args], { encoding: "utf8" });
  const red = join(img, "red.png");
  const withText = run("pipelines.mjs", [clip, red, join(img, "blue.png")]);
  assert.match(withText, /clip, 16-d, can do .*zero-shot-image-classification/);
  assert.match(withText, /image embeddings: \[2, 16\]/);
  assert.match(withText, /red\.png: (cat|pizza|rocket) \(\d+\.\d%\)/);
  assert.match(withText, /text embeddings: \[3, 16\]/);
  const imageOnly = run("pipelines.mjs", [encoder, red]);
  assert.match(imageOnly, /image-encoder, 16-d, can do image-feature-extraction, retrieval/);
  assert.doesNotMatch(imageOnly, /text embeddings/);
  for (const [model, query] of [
    [clip, "a red square"],
    [encoder, red],
  ] as const) {
    const hits = run("search.mjs", [model, img, query]).trim().split("\n");
    assert.equal(hits.length, 4, `${model}: one line per image`);
    if (query === red) assert.match(hits[0]!, /^1\.000 .*red\.png$/);
  }
});
