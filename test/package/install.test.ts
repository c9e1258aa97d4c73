/**
 * Juxta as a dependency, tried as a new user would: `npm pack`, then install the tarball into a fresh project
 * that has no `.npmrc` and no `allowScripts` (nothing of this repository's install settings travels), with
 * every download except the npm registry's made to fail, and run a zero-shot classification there.
 *
 * The registry is the one this machine's npm uses (its cache first); the test needs it as `npm ci` does, and
 * skips with the reason only where the registry cannot be reached outside CI.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { arch, platform, tmpdir } from "node:os";
import { join, posix } from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { projectRoot } from "../../src/util/paths.js";

const run = promisify(execFile);

/** The environment of a user's shell: no npm lifecycle variables or install switches inherited from `npm test`. */
function userEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cache|userconfig|cafile|strict_ssl|https?_proxy|proxy|noproxy)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !keep.test(k)) continue;
    if (/^ONNXRUNTIME_NODE_INSTALL/i.test(k) || k === "INIT_CWD") continue;
    env[k] = v;
  }
  // onnxruntime-node's install script sends its downloads through global-agent: point that at a closed
  // port, so a download it attempts fails here even on a machine with full internet access.
  env.GLOBAL_AGENT_HTTPS_PROXY = "http://127.0.0.1:9";
  env.GLOBAL_AGENT_HTTP_PROXY = "http://127.0.0.1:9";
  return env;
}

async function sh(cmd: string, args: string[], cwd: string, timeout = 300_000) {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, env: userEnv(), timeout, maxBuffer: 64 << 20 });
    return { ok: true, out: stdout + stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${err.stdout ?? ""}${err.stderr ?? ""}\n${err.message}` };
  }
}

const work = mkdtempSync(join(tmpdir(), "juxta-dependent-"));
const app = join(work, "app");
let skip: string | undefined;
let tarball = "";
let packed: string[] = [];
let installLog = "";

before(async () => {
  const ping = await sh(
    "npm",
    ["view", "onnxruntime-node@1.30.0", "version", "--prefer-offline"],
    work,
    60_000,
  );
  if (!ping.ok) {
    skip = `the npm registry cannot be reached (${ping.out.trim().split("\n").at(-1)})`;
    if (process.env.CI) throw new Error(`${skip}: CI must run this test`);
    return;
  }
  const pack = await sh(
    "npm",
    ["pack", "--ignore-scripts", "--json", "--pack-destination", work],
    projectRoot,
  );
  assert.ok(pack.ok, pack.out);
  const [info] = JSON.parse(pack.out.slice(pack.out.indexOf("["))) as [
    { filename: string; files: { path: string }[] },
  ];
  tarball = join(work, info.filename);
  packed = info.files.map((f) => f.path);

  // A fresh project: no .npmrc, no allowScripts, no lockfile.
  rmSync(app, { recursive: true, force: true });
  await run("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  assert.ok(!existsSync(join(app, ".npmrc")) && !existsSync(join(work, ".npmrc")));
  const install = await sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], app);
  installLog = install.out;
  assert.ok(install.ok, `npm install of the packed tarball failed:\n${install.out}`);
});

after(() => rmSync(work, { recursive: true, force: true }));

test("the tarball ships the licence, the built code, its sources and nothing of the tests", (t) => {
  if (skip) return t.skip(skip);
  for (const f of [
    "LICENSE",
    "README.md",
    "package.json",
    "dist/src/index.js",
    "scripts/onnxruntime-cpu-only.cjs",
  ])
    assert.ok(packed.includes(f), `${f} is not in the tarball`);
  assert.deepEqual(
    packed.filter((f) => f.startsWith("dist/test") || f.startsWith("test/")),
    [],
  );
  assert.match(readFileSync(join(projectRoot, "LICENSE"), "utf8"), /^MIT License/);
});

test("every source map in the tarball points at files the tarball holds", (t) => {
  if (skip) return t.skip(skip);
  const files = new Set(packed);
  const maps = packed.filter((f) => f.endsWith(".map"));
  assert.ok(maps.length > 100, `only ${maps.length} source maps`);
  const missing: string[] = [];
  for (const map of maps) {
    const { sources, sourceRoot = "" } = JSON.parse(readFileSync(join(projectRoot, map), "utf8")) as {
      sources: string[];
      sourceRoot?: string;
    };
    for (const s of sources) {
      const target = posix.normalize(posix.join(posix.dirname(map), sourceRoot, s));
      if (!files.has(target)) missing.push(`${map} → ${target}`);
    }
  }
  assert.deepEqual(missing.slice(0, 5), []);
});

test("the install needs nothing but the registry: onnxruntime-node's GPU download is skipped", (t) => {
  if (skip) return t.skip(skip);
  assert.doesNotMatch(installLog, /ENOTFOUND|ECONNREFUSED|nuget/i);
  const ort = join(app, "node_modules", "onnxruntime-node");
  const metadata = JSON.parse(readFileSync(join(ort, "package.json"), "utf8")) as { version: string };
  assert.equal(metadata.version, "1.30.0");
  // On linux/x64 its postinstall would fetch three CUDA/TensorRT files; Juxta's preinstall wrote placeholders.
  if (platform() === "linux" && arch() === "x64") {
    const bin = join(ort, "bin", "napi-v6", "linux", "x64");
    for (const f of ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"])
      assert.match(readFileSync(join(bin, f), "utf8"), /Placeholder written by juxta's preinstall/);
  }
});

test("dependents do not download the quickstart's emoji data, and are told how to get it", async (t) => {
  if (skip) return t.skip(skip);
  const modules = readdirSync(join(app, "node_modules"));
  assert.deepEqual(
    modules.filter((m) => m.startsWith("emoji")),
    [],
  );
  const help = await sh(join(app, "node_modules", ".bin", "juxta"), ["--help"], app, 60_000);
  assert.ok(help.ok, help.out);
  assert.doesNotMatch(help.out, /npm warn/);
  const data = await sh(
    join(app, "node_modules", ".bin", "juxta"),
    ["data", "emoji", "--out", "emoji"],
    app,
    60_000,
  );
  assert.ok(!data.ok);
  assert.match(data.out, /npm install emoji-datasource-google@"\^16[^"]*" emoji-datasource-twitter@/);
});

test("a zero-shot classification runs in the dependent project", async (t) => {
  if (skip) return t.skip(skip);
  writeFileSync(
    join(app, "classify.mjs"),
    `import { mkdirSync, writeFileSync } from "node:fs";
import { CLIP, saveClip } from "juxta/models";
import { openModel, pipeline } from "juxta/pipelines";
import { trainBpe } from "juxta/text";
import sharp from "sharp";

const tokenizer = trainBpe(["a red square", "a blue square", "a green circle"], { vocabSize: 530, minFrequency: 1 });
const block = { layers: 1, heads: 2, mlpRatio: 2, act: "gelu", lnEps: 1e-5 };
const clip = new CLIP({
  embedDim: 16,
  vision: { type: "vit", imageSize: 16, patchSize: 8, width: 32, ...block },
  text: { vocabSize: tokenizer.vocabSize, contextLength: 16, width: 32, ...block },
}).initialize(0);
mkdirSync("model", { recursive: true });
saveClip("model", clip, tokenizer, { step: 0 });
const raw = Buffer.alloc(16 * 16 * 3).map((_, i) => (i % 3 === 0 ? 220 : 30));
writeFileSync("red.png", await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer());

const model = await openModel("model");
const classify = await pipeline("zero-shot-image-classification", model);
console.log(import.meta.resolve("juxta/pipelines"));
console.log(JSON.stringify(await classify("red.png", ["red", "blue", "green"])));
await model.dispose();
`,
  );
  const out = await sh("node", ["classify.mjs"], app, 120_000);
  assert.ok(out.ok, out.out);
  const [resolved, json] = out.out.trim().split("\n").slice(-2) as [string, string];
  assert.equal(
    resolved,
    pathToFileURL(join(app, "node_modules", "juxta", "dist", "src", "api", "pipelines.js")).href,
  );
  const scores = JSON.parse(json) as { label: string; score: number }[];
  assert.deepEqual(scores.map((s) => s.label).sort(), ["blue", "green", "red"]);
  assert.ok(Math.abs(scores.reduce((a, s) => a + s.score, 0) - 1) < 1e-5);
  for (let i = 1; i < scores.length; i++) assert.ok((scores[i - 1]?.score ?? 0) >= (scores[i]?.score ?? 0));
});

test("TypeScript in the dependent project finds the subpaths' types, presets as their names", async (t) => {
  if (skip) return t.skip(skip);
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
      },
      files: ["check.ts"],
    }),
  );
  writeFileSync(
    join(app, "check.ts"),
    `import { type PresetName, presetConfig } from "juxta/models";
import { VectorIndex } from "juxta/search";
import { Tokenizer } from "juxta/text";
import type { ClipTrainOptions } from "juxta/train";

const preset: PresetName = "tiny";
// @ts-expect-error presets are their names, not any string
const typo: ClipTrainOptions["preset"] = "tinyy";
export const shapes = [presetConfig(preset).embedDim, typo, VectorIndex.create(4).dim, Tokenizer.name];
`,
  );
  const tsc = join(projectRoot, "node_modules", "typescript", "bin", "tsc");
  const out = await sh("node", [tsc, "-p", app], app, 120_000);
  assert.ok(out.ok, out.out);
});
