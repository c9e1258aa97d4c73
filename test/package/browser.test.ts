/**
 * `juxta/search`'s VectorIndex and `juxta/text`'s tokenizer in a browser: esbuild bundles an app that imports
 * just those two (platform browser, so no Node built-in may be left unresolved), and the bundle runs in
 * Chromium with the results Node gets.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { build } from "esbuild";
import { VectorIndex } from "../../src/search/index.js";
import { parseTokenizerJson, tokenizerJson, trainBpe } from "../../src/text/index.js";
import { projectRoot } from "../../src/util/paths.js";

/** Chromium for the browser run: JUXTA_CHROMIUM overrides the Debian package's path. */
const chromiumPath = process.env.JUXTA_CHROMIUM ?? "/usr/bin/chromium";
const noChromium = existsSync(chromiumPath)
  ? false
  : `skipped: no Chromium at ${chromiumPath} (install Debian's chromium or set JUXTA_CHROMIUM)`;
if (noChromium && process.env.CI) throw new Error(`${noChromium}: CI must run this test`);

const CAPTIONS = ["a red square", "a blue circle", "two green squares", "a red fruit"];
const tokenizerText = tokenizerJson(trainBpe(CAPTIONS, { vocabSize: 530, minFrequency: 1 }));
const vectors = Float32Array.from({ length: 5 * 8 }, (_, i) => Math.sin(i * 0.7) + (i % 8 === 0 ? 1 : 0));
const query = Float32Array.from({ length: 8 }, (_, i) => Math.cos(i));

/** The app: the same steps in Node (here) and in the browser (the bundle below). */
const APP = `import { VectorIndex } from "juxta/search";
import { parseTokenizerJson, Tokenizer } from "juxta/text";

/** A 4096 × 256 index: large enough (2^20 values) that searchAsync takes the engine-scan path. */
export function big(VectorIndexClass) {
  const dim = 256;
  const rows = 4096;
  const index = VectorIndexClass.create(dim);
  const v = new Float32Array(rows * dim);
  for (let i = 0; i < v.length; i++) v[i] = Math.sin(i * 0.37) + Math.cos((i % 97) * 0.11);
  index.add(Array.from({ length: rows }, (_, r) => "row" + r), v);
  const q = new Float32Array(dim);
  for (let i = 0; i < dim; i++) q[i] = Math.sin(i * 0.37 + 5);
  return { index, q };
}

export async function run(tokenizerText, vectors, query) {
  const tokenizer = parseTokenizerJson(tokenizerText);
  const index = VectorIndex.create(8);
  index.add(["a", "b", "c", "d", "e"], vectors, [{ n: 1 }, null, undefined, { n: 4 }, "five"]);
  index.remove(["c"]);
  let saveError;
  try {
    index.save("somewhere");
  } catch (e) {
    saveError = e.message;
  }
  return {
    isTokenizer: tokenizer instanceof Tokenizer,
    ids: tokenizer.encode("a red square and two blue circles"),
    hits: index.search(query, 3),
    asyncHits: await index.searchAsync(query, 3),
    bigHits: await (() => {
      const { index, q } = big(VectorIndex);
      return index.searchAsync(q, 5);
    })(),
    saveError,
  };
}
`;

const work = mkdtempSync(join(tmpdir(), "juxta-browser-"));
after(() => rmSync(work, { recursive: true, force: true }));

async function bundle() {
  const link = join(work, "node_modules", "juxta");
  if (!existsSync(link)) {
    mkdirSync(join(work, "node_modules"), { recursive: true });
    symlinkSync(projectRoot, link, "dir");
    writeFileSync(join(work, "app.js"), APP);
  }
  return build({
    absWorkingDir: work,
    entryPoints: ["app.js"],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
}

test("an esbuild browser bundle of VectorIndex and the tokenizer builds without Node", async () => {
  const out = await bundle();
  assert.deepEqual(out.errors, []);
  const inputs = Object.keys(out.metafile.inputs);
  assert.deepEqual(
    inputs.filter((f) => /node_modules\/(?!juxta\/)|onnxruntime|sharp/.test(f)),
    [],
  );
  assert.ok(inputs.some((f) => f.endsWith("search/engine-scan.browser.js")));
  assert.ok(!inputs.some((f) => f.endsWith("search/engine-scan.js")));
  const code = out.outputFiles[0]?.text ?? "";
  assert.doesNotMatch(code, /from "node:|require\("node:/);
});

test("the bundle runs in Chromium with the results Node gets", { skip: noChromium }, async () => {
  const out = await bundle();
  const code = out.outputFiles[0]?.text as string;
  const index = VectorIndex.create(8);
  index.add(["a", "b", "c", "d", "e"], vectors, [{ n: 1 }, null, undefined, { n: 4 }, "five"]);
  index.remove(["c"]);
  writeFileSync(join(work, "big.mjs"), APP);
  const { big } = (await import(join(work, "big.mjs"))) as {
    big: (c: typeof VectorIndex) => { index: VectorIndex; q: Float32Array };
  };
  const large = big(VectorIndex);
  const expected = {
    ids: parseTokenizerJson(tokenizerText).encode("a red square and two blue circles"),
    hits: index.search(query, 3),
    bigHits: large.index.search(large.q, 5),
  };

  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: chromiumPath });
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("request", (r) => {
      if (!/^(data|blob):|^about:blank$/.test(r.url())) problems.push(`request: ${r.url()}`);
    });
    await page.goto("about:blank");
    const result = await page.evaluate(
      async ([src, text, v, q]) => {
        const url = URL.createObjectURL(new Blob([src as string], { type: "text/javascript" }));
        const app = await import(url);
        return app.run(text, new Float32Array(v as number[]), new Float32Array(q as number[]));
      },
      [code, tokenizerText, [...vectors], [...query]] as const,
    );
    assert.deepEqual(problems, []);
    assert.equal(result.isTokenizer, true);
    assert.deepEqual(result.ids, expected.ids);
    assert.deepEqual(result.hits, expected.hits);
    assert.deepEqual(result.asyncHits, expected.hits);
    // The large index's async search ran the browser scan; its scores are float32, the loop's float64.
    assert.deepEqual(
      result.bigHits.map((h: { id: string }) => h.id),
      expected.bigHits.map((h) => h.id),
    );
    const gaps = result.bigHits.map((h: { score: number }, i: number) =>
      Math.abs(h.score - (expected.bigHits[i]?.score as number)),
    );
    assert.ok(Math.max(...gaps) < 1e-3, `score gaps ${gaps}`);
    assert.match(result.saveError, /node:fs mkdirSync\(\) is not available in a browser/);
  } finally {
    await browser.close();
  }
});
