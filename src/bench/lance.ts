/**
 * `juxta bench --suite lance`: the LanceDB backend (src/search/lance.ts) at scale. N generated 256-d
 * vectors (the serve suite's structured vectors: a 32-d latent, no clusters) are added to a LanceIndex in
 * the committed writes `juxta index --backend lance` makes, its IVF-PQ index built, and queries timed at
 * two probe settings; then the same vectors go into the in-memory exact index, whose scan gives the
 * ground truth (recall@10) and the latency to compare with. The LanceDB phase runs first, so the process's
 * high-water mark after it is what the lance build needed (the exact index, 1 GB at 1M, comes later).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { VectorIndex } from "../search/index.js";
import { LanceIndex } from "../search/lance.js";
import { structuredVectors } from "./serve.js";
import { peakRssMb, percentile, round } from "./timing.js";

export interface LanceBenchOptions {
  /** Vectors in the index (default 1,000,000). */
  vectors?: number;
  /** Timed queries (default 200). */
  queries?: number;
  /** Where the table is written (a temporary folder under it, removed after). */
  dir?: string;
  log?: (line: string) => void;
}

const DIM = 256;
/** Rows per committed write (what `juxta index` writes per batch of embeddings is smaller). */
const CHUNK = 50_000;

const rssMb = () => round(process.memoryUsage().rss / 2 ** 20, 0);

export async function benchLance(opts: LanceBenchOptions = {}): Promise<Record<string, unknown>> {
  const n = opts.vectors ?? 1_000_000;
  const queries = opts.queries ?? 200;
  const log = opts.log ?? (() => {});
  const dir = mkdtempSync(join(opts.dir ?? tmpdir(), "juxta-lance-bench-"));
  const out: Record<string, unknown> = {
    suite: "lance",
    vectors: n,
    dim: DIM,
    load_at_start: round(loadavg()[0] as number, 1),
  };
  try {
    const rssBefore = rssMb();
    const index = await LanceIndex.create(join(dir, "index"), DIM);
    let t0 = performance.now();
    for (let i0 = 0; i0 < n; i0 += CHUNK) {
      const rows = Math.min(CHUNK, n - i0);
      const ids = Array.from({ length: rows }, (_, r) => `v${i0 + r}`);
      await index.add(ids, structuredVectors(rows, DIM, 1 + i0));
      log(`lance: added ${i0 + rows} / ${n}`);
    }
    out.add_s = round((performance.now() - t0) / 1000, 1);
    t0 = performance.now();
    log("lance: building the IVF-PQ index");
    await index.buildApproximate();
    out.ivf_pq_build_s = round((performance.now() - t0) / 1000, 1);
    out.ivf_pq_partitions = Math.round(Math.sqrt(n));
    // Each figure is logged as it is measured, so that a run stopped part-way still says what it measured.
    log(
      `lance: added in ${out.add_s} s, IVF-PQ built in ${out.ivf_pq_build_s} s, peak RSS ${peakRssMb()} MB`,
    );
    out.disk_mb = Number(
      execFileSync("du", ["-sm", join(dir, "index")], { encoding: "utf8" }).split("\t")[0],
    );
    out.rss_before_mb = rssBefore;
    out.peak_rss_after_build_mb = peakRssMb();

    const q = structuredVectors(queries, DIM, 999_999);
    const query = (r: number) => q.subarray(r * DIM, (r + 1) * DIM);
    const settings = [
      { name: "default", nprobes: 20, refine: 10 },
      { name: "wide", nprobes: 64, refine: 20 },
    ];
    const answers = new Map<string, string[][]>();
    for (const s of settings) {
      log(`lance: ${queries} queries, nprobes ${s.nprobes}, refine ${s.refine}`);
      const times: number[] = [];
      const got: string[][] = [];
      await index.searchAsync(query(0), 10, s); // the first search opens the index files
      for (let r = 0; r < queries; r++) {
        const t = performance.now();
        const hits = await index.searchAsync(query(r), 10, s);
        times.push(performance.now() - t);
        got.push(hits.map((h) => h.id));
      }
      answers.set(s.name, got);
      out[`${s.name}_nprobes`] = s.nprobes;
      out[`${s.name}_refine`] = s.refine;
      out[`${s.name}_p50_ms`] = percentile(times, 0.5);
      out[`${s.name}_p99_ms`] = percentile(times, 0.99);
      log(`lance: p50 ${out[`${s.name}_p50_ms`]} ms, p99 ${out[`${s.name}_p99_ms`]} ms`);
    }
    out.rss_after_queries_mb = rssMb();
    out.peak_rss_lance_mb = peakRssMb();
    index.close();

    log("exact: the in-memory index over the same vectors (ground truth and the scan to compare with)");
    const exact = VectorIndex.create(DIM);
    for (let i0 = 0; i0 < n; i0 += CHUNK) {
      const rows = Math.min(CHUNK, n - i0);
      exact.add(
        Array.from({ length: rows }, (_, r) => `v${i0 + r}`),
        structuredVectors(rows, DIM, 1 + i0),
      );
    }
    const times: number[] = [];
    const found = new Map(settings.map((s) => [s.name, 0]));
    for (let r = 0; r < queries; r++) {
      const t = performance.now();
      const truth = await exact.searchAsync(query(r), 10);
      times.push(performance.now() - t);
      for (const s of settings) {
        const approx = new Set(answers.get(s.name)?.[r]);
        found.set(s.name, (found.get(s.name) ?? 0) + truth.filter((h) => approx.has(h.id)).length / 10);
      }
    }
    out.exact_p50_ms = percentile(times, 0.5);
    out.exact_p99_ms = percentile(times, 0.99);
    for (const s of settings) {
      out[`${s.name}_recall_at_10`] = round((found.get(s.name) ?? 0) / queries, 3);
      out[`${s.name}_speedup_p50`] = round(
        (out.exact_p50_ms as number) / (out[`${s.name}_p50_ms`] as number),
        1,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  out.load_at_end = round(loadavg()[0] as number, 1);
  return out;
}
