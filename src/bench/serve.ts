/**
 * `juxta bench --suite serve`: `juxta serve` under load, on loopback. A 100k-item index over the tiny
 * preset's model (random weights: latency does not depend on them; the item vectors are generated, unit
 * vectors with low intrinsic dimension, since embedding 100k images would take the bench's whole budget),
 * served by the real CLI in a child process; autocannon (in this process) sends text queries at 1, 8 and
 * 32 concurrent clients, then polls /health while other clients upload images to be embedded. Then the
 * approximate index alone: an HNSW graph over 1M vectors, its recall@10 and single-query latency beside
 * the exact scan's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { INDEX_MODEL_FILE, indexModelJson } from "../apps/image-index.js";
import { fillNormal, streamKey } from "../engine/random.js";
import { weightsFingerprint } from "../handle/fingerprint.js";
import { CLIP } from "../models/clip.js";
import { presetConfig } from "../models/presets.js";
import { saveClip } from "../models/saved.js";
import { HnswIndex } from "../search/hnsw.js";
import { VectorIndex } from "../search/index.js";
import { createIndexStore } from "../search/store.js";
import { trainBpe } from "../text/train.js";
import { UserError } from "../util/errors.js";
import { percentile, round } from "./timing.js";

export interface ServeBenchOptions {
  /** Items in the served index (default 100,000). */
  items?: number;
  /** Seconds per autocannon run (default 10). */
  seconds?: number;
  /** Concurrent clients for the text-query runs (default 1, 8, 32). */
  connections?: number[];
  /** Also run the text queries against a server with q8 query embeddings (`--dtype q8`; default true). */
  q8?: boolean;
  /** Vectors for the approximate-index measurement (default 1,000,000; 0 skips it). */
  annItems?: number;
  /** Single queries timed on the approximate index (default 500). */
  annQueries?: number;
  log?: (line: string) => void;
}

const WORDS = ["red", "green", "blue", "small", "large", "round", "square", "bright", "dark", "striped"];
const NOUNS = ["fruit", "car", "dog", "house", "flower", "boat", "shoe", "lamp", "chair", "bird"];

/** Unit vectors `normalize(W z)`, z ∈ ℝ³²: low intrinsic dimension, as learned embeddings have. */
export function structuredVectors(n: number, dim: number, seed: number, w?: Float32Array): Float32Array {
  const basis = w ?? new Float32Array(dim * 32);
  if (!w) fillNormal(basis, streamKey(0, "serve-bench-basis", dim));
  const out = new Float32Array(n * dim);
  const z = new Float32Array(32);
  for (let i = 0; i < n; i++) {
    fillNormal(z, streamKey(seed, "serve-bench-z", i));
    for (let d = 0; d < dim; d++) {
      let v = 0;
      for (let j = 0; j < 32; j++) v += (basis[d * 32 + j] as number) * (z[j] as number);
      out[i * dim + d] = v;
    }
  }
  return out;
}

/** The tiny preset's CLIP with random weights and a BPE tokenizer fitted to the query words. */
function tinyModel(dir: string): string {
  const captions = WORDS.flatMap((w) => NOUNS.map((n) => `a ${w} ${n}`));
  const tokenizer = trainBpe(captions, { vocabSize: 600, minFrequency: 1 });
  const cfg = presetConfig("tiny");
  const model = new CLIP({ ...cfg, text: { ...cfg.text, vocabSize: tokenizer.vocabSize } }).initialize(0);
  const out = join(dir, "model");
  mkdirSync(out);
  saveClip(out, model, tokenizer, { step: 0, preset: "tiny" });
  return out;
}

async function buildIndex(dir: string, model: string, n: number, dim: number): Promise<string> {
  const out = join(dir, "bench.index");
  const store = await createIndexStore(out, dim);
  const chunk = 20_000;
  for (let i0 = 0; i0 < n; i0 += chunk) {
    const rows = Math.min(chunk, n - i0);
    const ids = Array.from({ length: rows }, (_, r) => `item-${i0 + r}`);
    const metas = ids.map((id, r) => ({
      text: `a ${WORDS[(i0 + r) % 10]} ${NOUNS[(((i0 + r) / 10) % 10) | 0]} (${id})`,
    }));
    await store.add(ids, structuredVectors(rows, dim, 1 + i0), metas);
  }
  await store.commit({
    [INDEX_MODEL_FILE]: indexModelJson({ model, dim, weights: weightsFingerprint(model) }),
  });
  store.close();
  return out;
}

/** `juxta serve` on a free port in a child process; resolves with its URL once it listens. */
function serveChild(index: string, dtype = "fp32"): Promise<{ url: string; child: ChildProcess }> {
  // From dist/ the compiled CLI; from src/ (node --import tsx) the TypeScript one, under the same flags.
  const js = fileURLToPath(new URL("../cli/main.js", import.meta.url));
  const cli = existsSync(js) ? js : js.replace(/\.js$/, ".ts");
  const child = spawn(
    process.execPath,
    [...process.execArgv, cli, "serve", "--index", index, "--port", "0", "--dtype", dtype],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  return new Promise((resolve, reject) => {
    let err = "";
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ url: m[1] as string, child });
    });
    child.on("exit", (code) => reject(new UserError(`juxta serve exited (${code}): ${err.trim()}`)));
  });
}

type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
interface CannonResult {
  latency: { p50: number; p99: number; average: number };
  requests: { average: number };
  errors: number;
  non2xx: number;
}

async function loadCannon(): Promise<Cannon> {
  try {
    return (await import("autocannon" as string)).default as Cannon;
  } catch {
    throw new UserError(
      "bench --suite serve needs autocannon (a dev dependency of Juxta): npm install autocannon@9",
    );
  }
}

const summary = (r: CannonResult) => ({
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  req_per_s: round(r.requests.average, 1),
  errors: r.errors + r.non2xx,
});

async function pngOf(seed: number, size: number): Promise<Buffer> {
  const px = new Float32Array(size * size * 3);
  fillNormal(px, streamKey(seed, "serve-bench-png"));
  const bytes = Uint8Array.from(px, (v) => Math.max(0, Math.min(255, 128 + 40 * v)));
  return sharp(bytes, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}

export async function benchServe(opts: ServeBenchOptions = {}): Promise<Record<string, unknown>> {
  const log = opts.log ?? (() => {});
  const n = opts.items ?? 100_000;
  const seconds = opts.seconds ?? 10;
  const cannon = await loadCannon();
  const dir = mkdtempSync(join(tmpdir(), "juxta-serve-bench-"));
  const out: Record<string, unknown> = { suite: "serve", items: n };
  let child: ChildProcess | undefined;
  try {
    const model = tinyModel(dir);
    const dim = presetConfig("tiny").embedDim;
    log(`building a ${n}-item index`);
    const index = await buildIndex(dir, model, n, dim);
    let served = await serveChild(index);
    child = served.child;
    const url = served.url;
    const query = () =>
      JSON.stringify({
        text: `a ${WORDS[(Math.random() * 10) | 0]} ${NOUNS[(Math.random() * 10) | 0]}`,
        k: 10,
      });
    const search = (connections: number, duration: number) =>
      cannon({
        url: `${served.url}/search`,
        connections,
        duration,
        requests: [
          {
            method: "POST",
            headers: { "content-type": "application/json" },
            setupRequest: (req: Record<string, unknown>) => ({ ...req, body: query() }),
          },
        ],
      });
    const textRuns = async (dtype: string) => {
      await search(4, 2); // warm-up: V8, ONNX Runtime's first runs
      for (const c of opts.connections ?? [1, 8, 32]) {
        log(`text queries, ${c} clients, ${seconds} s (${dtype} query embeddings)`);
        out[`text_${dtype === "fp32" ? "" : `${dtype}_`}c${c}`] = summary(await search(c, seconds));
      }
    };
    await textRuns("fp32");
    // /health while images are embedded: clients search by uploaded image (embedding, no write) and
    // others add uploads (embedding plus a committed generation per upload: the new row as a segment).
    const images = await Promise.all(Array.from({ length: 64 }, (_, i) => pngOf(i, 256)));
    const health = () => cannon({ url: `${url}/health`, connections: 1, duration: seconds });
    const loadWith = async (route: "search" | "items", clients: number) => {
      let stop = false;
      let done = 0;
      let next = 0;
      const loop = async () => {
        while (!stop) {
          const image = (images[next++ % images.length] as Buffer).toString("base64");
          const body = route === "search" ? { image, k: 10 } : { images: [{ image }] };
          const r = await fetch(`${url}/${route}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          await r.arrayBuffer();
          if (r.ok) done++;
        }
      };
      const loops = Array.from({ length: clients }, loop);
      const t0 = performance.now();
      const h = await health();
      stop = true;
      await Promise.all(loops);
      return { ...summary(h), uploads_per_s: round(done / ((performance.now() - t0) / 1000), 1) };
    };
    log("/health while 4 clients search by uploaded image");
    out.health_during_image_search = await loadWith("search", 4);
    log("/health while 2 clients add uploads");
    out.health_during_uploads = await loadWith("items", 2);
    if (opts.q8 ?? true) {
      child.kill("SIGTERM");
      await new Promise((done) => child?.once("exit", done));
      served = await serveChild(index, "q8");
      child = served.child;
      await textRuns("q8");
    }
  } finally {
    child?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
  const annItems = opts.annItems ?? 1_000_000;
  if (annItems > 0) out.ann = await benchApproximate(annItems, opts.annQueries ?? 500, log);
  return out;
}

/** The approximate index over `n` 256-d vectors: build time, recall@10 at build, query latency beside exact. */
export async function benchApproximate(
  n: number,
  queries: number,
  log: (line: string) => void = () => {},
): Promise<Record<string, unknown>> {
  const dim = 256;
  const exact = VectorIndex.create(dim);
  const chunk = 50_000;
  log(`generating ${n} vectors`);
  for (let i0 = 0; i0 < n; i0 += chunk) {
    const rows = Math.min(chunk, n - i0);
    exact.add(
      Array.from({ length: rows }, (_, r) => `v${i0 + r}`),
      structuredVectors(rows, dim, 1 + i0),
    );
  }
  const hnsw = new HnswIndex(exact);
  log(`building the HNSW graph over ${n} vectors`);
  let shown = 0;
  const stats = await hnsw.build({
    onProgress: (done) => {
      if (done - shown >= n / 10) {
        shown = done;
        log(`  ${done} / ${n}`);
      }
    },
  });
  const q = structuredVectors(queries, dim, 999_999);
  const times: number[] = [];
  for (let r = 0; r < queries; r++) {
    const t0 = performance.now();
    await hnsw.search(q.subarray(r * dim, (r + 1) * dim), 10);
    times.push(performance.now() - t0);
  }
  // The exact scan on a few of the same queries, for the ratio and recall on fresh queries.
  const exactTimes: number[] = [];
  let found = 0;
  const checked = Math.min(50, queries);
  for (let r = 0; r < checked; r++) {
    const query = q.subarray(r * dim, (r + 1) * dim);
    const t0 = performance.now();
    const truth = await exact.searchAsync(query, 10);
    exactTimes.push(performance.now() - t0);
    const approx = new Set((await hnsw.search(query, 10)).map((h) => h.id));
    found += truth.filter((h) => approx.has(h.id)).length / 10;
  }
  return {
    vectors: n,
    dim,
    build_s: stats.buildSeconds,
    params: stats.params,
    recall_at_10_build: stats.recallAt10,
    recall_queries: stats.recallQueries,
    recall_at_10_fresh: round(found / checked, 3),
    query_p50_ms: percentile(times, 0.5),
    query_p99_ms: percentile(times, 0.99),
    exact_p50_ms: percentile(exactTimes, 0.5),
    speedup_p50: round(percentile(exactTimes, 0.5) / percentile(times, 0.5), 1),
  };
}
