/**
 * The approximate index: an HNSW graph (usearch, an optional dependency) over the vectors of an exact
 * `VectorIndex`, behind the same search calls. The exact vectors stay: the graph proposes candidates and
 * the exact index re-ranks them, so every score returned is the exact cosine (or dot) and the graph can
 * store its vectors as int8 (a quarter of the memory, three times faster to build; docs/search.md).
 *
 * - Built in the background (a worker thread: usearch's `add` blocks its caller for the whole build);
 *   until the graph is ready every search is the exact scan.
 * - Items added after the build are `pending`: scanned exactly beside the graph's candidates. Removed
 *   items' graph nodes are skipped. A rebuild (`build` again) takes them in.
 * - At build time its recall@10 against the exact scan is measured on the index's own vectors (a sample
 *   of stored items as queries, each item left out of its own results), and kept with the graph.
 * - Saved with the index's generations (generations.ts): each generation folder holds `hnsw.usearch`
 *   (the graph; hard-linked from the previous generation when unchanged), `hnsw.keys` (per live row of
 *   vectors.f32, its graph key + 1, or 0 for a pending item) and `hnsw.json` (parameters, recall).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { inputError, UserError } from "../util/errors.js";
import { linkIntoGeneration, writeNewFileAsync } from "./generations-async.js";
import type { BuildReply, BuildRequest } from "./hnsw-worker.js";
import type { SearchHit, VectorIndex } from "./index.js";

type Usearch = typeof import("usearch");
type Graph = InstanceType<Usearch["default"]["Index"]>;

/** The usearch version Juxta is tested with (2.26 declares Node ≥ 22). */
export const USEARCH_VERSION = "2.25.1";

/** usearch, or the one line that says how to install it. */
export async function openUsearch(): Promise<Usearch> {
  try {
    return await import("usearch");
  } catch {
    throw new UserError(
      `the approximate index needs the optional package usearch, which is not installed: npm install usearch@${USEARCH_VERSION}`,
    );
  }
}

export interface HnswParams {
  /** Links per node (HNSW's M). */
  connectivity: number;
  /** Beam width while building (ef_construction). */
  expansionAdd: number;
  /** Beam width while searching (ef). */
  expansionSearch: number;
  /** How the graph stores its vectors; re-ranking uses the exact float32 ones either way. */
  quantization: "i8" | "f16" | "f32";
  /** Threads for the build (0: all cores). */
  threads?: number;
}

/**
 * Defaults. The search beam decides recall (re-ranking fixes the order of what the beam finds, not what it
 * misses): on the bench's structured 256-d vectors, 100k, fresh queries, recall@10 was 0.957 at ef 128,
 * 0.992 at 256, 0.999 at 384 and 1.000 at 512 (docs/search.md), and at 1M, ef 128 gave 0.87–0.90, so 1M
 * needs the wider beam; a query at ef 512 over 1M stays well under the 20 ms goal.
 */
export const DEFAULT_HNSW: HnswParams = {
  connectivity: 16,
  expansionAdd: 64,
  expansionSearch: 512,
  quantization: "i8",
};

/** What was measured when the graph was built. */
export interface HnswStats {
  /** Items in the graph. */
  items: number;
  params: HnswParams;
  /** Mean fraction of the exact top-10 found, over `recallQueries` stored items used as queries. */
  recallAt10: number;
  recallQueries: number;
  buildSeconds: number;
  builtAt: string;
}

export interface HnswStatus {
  /** none: no graph; building: exact answers until it is ready; unavailable: a saved graph usearch cannot open. */
  state: "none" | "building" | "ready" | "unavailable";
  stats?: HnswStats;
  /** Items searched exactly beside the graph (added since it was built). */
  pending: number;
  /** Why a saved graph is not used (state 'unavailable'). */
  reason?: string;
  /** Items added to the graph so far, while building. */
  progress?: { done: number; total: number };
}

export interface HnswBuildOptions {
  params?: Partial<HnswParams>;
  /** Stored items used as queries to measure recall (default 200). */
  recallQueries?: number;
  onProgress?: (done: number, total: number) => void;
}

export const HNSW_GRAPH = "hnsw.usearch";
export const HNSW_KEYS = "hnsw.keys";
export const HNSW_HEADER = "hnsw.json";
const FORMAT = "juxta-hnsw";

export function usearchConfig(dim: number, p: HnswParams) {
  return {
    dimensions: dim,
    metric: "cos" as Usearch["default"]["MetricKind"]["Cos"],
    quantization: p.quantization as Usearch["default"]["ScalarKind"]["I8"],
    connectivity: p.connectivity,
    expansion_add: p.expansionAdd,
    expansion_search: p.expansionSearch,
    multi: false,
  };
}

export class HnswIndex {
  private graph?: Graph;
  /** Graph key → id; undefined once the item was removed (or replaced) after the build. */
  private keyIds: (string | undefined)[] = [];
  private keyOf = new Map<string, number>();
  private pending = new Set<string>();
  /** Ids added or removed while a build runs: their graph nodes would be stale. */
  private changed?: Set<string>;
  private building?: Promise<HnswStats>;
  private progress?: { done: number; total: number };
  /** The graph's file in the current generation, while the graph is unchanged since it was written. */
  private file?: string;
  private unavailable?: string;
  private stats?: HnswStats;
  private worker?: Worker;
  /** The graph the last `save` wrote, and where. */
  private written?: { graph: Graph; file: string };

  constructor(readonly exact: VectorIndex) {}

  /** The graph saved in generation folder `folder` (if any) over `exact`, as loaded from that folder. */
  static async open(exact: VectorIndex, folder: string): Promise<HnswIndex> {
    const h = new HnswIndex(exact);
    const headerFile = join(folder, HNSW_HEADER);
    if (!existsSync(headerFile)) return h;
    const header = readHeader(headerFile);
    const ids = exact.liveIds();
    if (header.count !== ids.length)
      throw inputError(
        { file: headerFile, field: "count" },
        `${header.count} rows, but the index holds ${ids.length}; the folder is inconsistent`,
      );
    const keysFile = join(folder, HNSW_KEYS);
    const bytes = readFileSync(keysFile);
    if (bytes.length !== header.count * 4)
      throw new UserError(
        `${keysFile}: ${bytes.length} bytes, expected ${header.count * 4}; the file is corrupted`,
      );
    let usearch: Usearch;
    try {
      usearch = await openUsearch();
    } catch (e) {
      // The exact index still answers every query; the graph waits for usearch.
      h.unavailable = (e as Error).message;
      return h;
    }
    const graph = new usearch.default.Index(usearchConfig(exact.dim, header.stats.params));
    graph.load(join(folder, HNSW_GRAPH));
    if (graph.size() !== header.stats.items)
      throw new UserError(
        `${join(folder, HNSW_GRAPH)}: ${graph.size()} nodes, expected ${header.stats.items}; the file is corrupted`,
      );
    const keys = new Uint32Array(header.count);
    new Uint8Array(keys.buffer).set(bytes);
    h.keyIds = new Array(header.stats.items).fill(undefined);
    ids.forEach((id, r) => {
      const k = keys[r] as number;
      if (k === 0) h.pending.add(id);
      else {
        h.keyIds[k - 1] = id;
        h.keyOf.set(id, k - 1);
      }
    });
    h.graph = graph;
    h.stats = header.stats;
    h.file = join(folder, HNSW_GRAPH);
    return h;
  }

  get status(): HnswStatus {
    const state = this.building
      ? "building"
      : this.graph
        ? "ready"
        : this.unavailable
          ? "unavailable"
          : "none";
    const s: HnswStatus = { state, pending: this.graph ? this.pending.size : 0 };
    if (this.stats) s.stats = this.stats;
    if (this.unavailable) s.reason = this.unavailable;
    if (this.progress && this.building) s.progress = { ...this.progress };
    return s;
  }

  /** Record items just added to the exact index: searched exactly until a rebuild takes them in. */
  added(ids: readonly string[]): void {
    for (const id of ids) {
      this.changed?.add(id);
      if (this.graph) this.pending.add(id);
    }
  }

  /** Record items just removed from the exact index. */
  removed(ids: readonly string[]): void {
    for (const id of ids) {
      this.changed?.add(id);
      this.pending.delete(id);
      const k = this.keyOf.get(id);
      if (k === undefined) continue;
      this.keyOf.delete(id);
      this.keyIds[k] = undefined;
    }
  }

  /** The k best items for `query`: the graph's candidates re-ranked exactly, or the exact scan. */
  async search(query: Float32Array, k: number): Promise<SearchHit[]> {
    const graph = this.graph;
    if (!graph) return this.exact.searchAsync(query, k);
    if (query.length !== this.exact.dim)
      throw new UserError(`vector index: query has ${query.length} values, index is ${this.exact.dim}-d`);
    const want = Math.min(k, this.exact.size);
    if (want <= 0) return [];
    const nodes = this.keyIds.length;
    const live = this.keyOf.size;
    // Over-fetch for the re-rank; ask again, wider, when removed nodes crowd the live ones out.
    let fetch = Math.min(nodes, Math.max(2 * want, want + 16));
    const candidates = new Set<string>(this.pending);
    for (;;) {
      const found = graph.search(query, fetch, 1);
      let fromGraph = 0;
      for (const key of found.keys) {
        const id = this.keyIds[Number(key)];
        if (id !== undefined) {
          candidates.add(id);
          fromGraph++;
        }
      }
      if (fromGraph >= Math.min(live, want + Math.min(16, want)) || fetch >= nodes) break;
      fetch = Math.min(nodes, 2 * fetch);
    }
    return this.exact.rank(query, candidates, want);
  }

  async searchBatch(queries: Float32Array, k: number): Promise<SearchHit[][]> {
    if (!this.graph) return this.exact.searchBatchAsync(queries, k);
    const dim = this.exact.dim;
    const out: SearchHit[][] = [];
    for (let r = 0; r * dim < queries.length; r++)
      out.push(await this.search(queries.subarray(r * dim, (r + 1) * dim), k));
    return out;
  }

  /**
   * Build (or rebuild) the graph over the index's live items in a worker thread; searches stay exact (or
   * on the previous graph) until it is ready. Resolves with what was measured; one build at a time.
   */
  build(opts: HnswBuildOptions = {}): Promise<HnswStats> {
    if (!this.building)
      this.building = this.runBuild(opts).finally(() => {
        this.building = undefined;
        this.progress = undefined;
      });
    return this.building;
  }

  /**
   * Write the graph's files into a new generation folder for rows `ids` (the live ids in the order the
   * exact index saves them). Nothing is written before a graph exists.
   */
  async save(folder: string, ids: readonly string[]): Promise<void> {
    if (!this.graph || !this.stats) return;
    const graphFile = join(folder, HNSW_GRAPH);
    // Settled before the first await: the keys of these rows and the graph as it is now.
    const keys = new Uint32Array(ids.length);
    ids.forEach((id, r) => {
      const k = this.keyOf.get(id);
      keys[r] = k === undefined ? 0 : k + 1;
    });
    const header = { format: FORMAT, version: 1, dim: this.exact.dim, count: ids.length, stats: this.stats };
    this.written = { graph: this.graph, file: graphFile };
    if (this.file && existsSync(this.file)) await linkIntoGeneration(this.file, graphFile);
    else {
      // usearch writes synchronously: once per build, the first commit after it.
      this.graph.save(graphFile);
      await fsyncFile(graphFile);
    }
    await writeNewFileAsync(join(folder, HNSW_KEYS), new Uint8Array(keys.buffer));
    await writeNewFileAsync(join(folder, HNSW_HEADER), `${JSON.stringify(header, null, 2)}\n`);
  }

  /** Stop a build in progress (its promise rejects); the graph in use, if any, stays. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  /**
   * The generation written by `save` is current: later saves link its graph file, unless a build
   * replaced the graph while that generation was being written.
   */
  committed(folder: string): void {
    const w = this.written;
    if (w && this.graph === w.graph && w.file === join(folder, HNSW_GRAPH)) this.file = w.file;
  }

  private async runBuild(opts: HnswBuildOptions): Promise<HnswStats> {
    const usearch = await openUsearch();
    const params: HnswParams = { ...DEFAULT_HNSW, ...opts.params };
    checkParams(params);
    const dim = this.exact.dim;
    if (this.exact.metric !== "cosine")
      throw new UserError("approximate index: only for cosine indexes (this one ranks by dot product)");
    const { ids, vectors } = this.exact.entries();
    if (ids.length === 0) throw new UserError("approximate index: the index is empty");
    this.changed = new Set();
    this.progress = { done: 0, total: ids.length };
    const tmp = mkdtempSync(join(tmpdir(), "juxta-hnsw-"));
    const file = join(tmp, HNSW_GRAPH);
    const t0 = performance.now();
    try {
      await buildInWorker(
        { vectors, dim, params, file },
        (done) => {
          this.progress = { done, total: ids.length };
          opts.onProgress?.(done, ids.length);
        },
        (w) => {
          this.worker = w;
        },
      );
      this.worker = undefined;
      const graph = new usearch.default.Index(usearchConfig(dim, params));
      graph.load(file);
      const buildSeconds = (performance.now() - t0) / 1000;
      // Items changed while the graph was built keep no node: removed ones are gone, re-added ones pending.
      const changed = this.changed;
      this.keyIds = ids.map((id) => (changed.has(id) || !this.exact.has(id) ? undefined : id));
      this.keyOf = new Map();
      this.keyIds.forEach((id, k) => {
        if (id !== undefined) this.keyOf.set(id, k);
      });
      this.pending = new Set(this.exact.liveIds().filter((id) => !this.keyOf.has(id)));
      this.graph = graph;
      this.file = undefined;
      const recall = await this.measureRecall(opts.recallQueries ?? 200);
      this.stats = {
        items: ids.length,
        params,
        recallAt10: recall.recall,
        recallQueries: recall.queries,
        buildSeconds: Math.round(buildSeconds * 100) / 100,
        builtAt: new Date().toISOString(),
      };
      return this.stats;
    } finally {
      this.changed = undefined;
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Recall@10 of `search` against the exact scan, over stored items (evenly spaced) as queries. */
  private async measureRecall(queries: number): Promise<{ recall: number; queries: number }> {
    const ids = [...this.keyOf.keys()];
    const m = Math.min(queries, ids.length);
    const dim = this.exact.dim;
    const sample = Array.from({ length: m }, (_, i) => ids[Math.floor((i * ids.length) / m)] as string);
    let found = 0;
    let total = 0;
    const batch = 16;
    for (let b = 0; b < m; b += batch) {
      const part = sample.slice(b, b + batch);
      const q = new Float32Array(part.length * dim);
      part.forEach((id, r) => {
        q.set((this.exact.item(id) as { vector: Float32Array }).vector, r * dim);
      });
      const exact = await this.exact.searchBatchAsync(q, 11);
      for (const [r, id] of part.entries()) {
        const truth = new Set(
          (exact[r] as SearchHit[])
            .filter((h) => h.id !== id)
            .slice(0, 10)
            .map((h) => h.id),
        );
        const approx = (await this.search(q.subarray(r * dim, (r + 1) * dim), 11))
          .filter((h) => h.id !== id)
          .slice(0, 10);
        found += approx.filter((h) => truth.has(h.id)).length;
        total += truth.size;
      }
    }
    return { recall: total === 0 ? 1 : Math.round((found / total) * 10000) / 10000, queries: m };
  }
}

function buildInWorker(
  req: BuildRequest,
  onProgress: (done: number) => void,
  started: (w: Worker) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./hnsw-worker.js", import.meta.url), {
      workerData: req,
      transferList: [req.vectors.buffer as ArrayBuffer],
    });
    started(worker);
    let settled = false;
    worker.on("message", (m: BuildReply) => {
      if ("progress" in m) onProgress(m.progress);
      else {
        settled = true;
        if ("error" in m) reject(new UserError(`approximate index: ${m.error}`));
        else resolve();
        void worker.terminate();
      }
    });
    worker.on("error", (e) => {
      settled = true;
      reject(e);
    });
    worker.on("exit", (code) => {
      if (!settled) reject(new UserError(`approximate index: the build stopped (worker exit code ${code})`));
    });
  });
}

function checkParams(p: HnswParams): void {
  for (const key of ["connectivity", "expansionAdd", "expansionSearch"] as const)
    if (!Number.isInteger(p[key]) || p[key] < 2)
      throw new UserError(`approximate index: ${key} must be an integer ≥ 2, got ${p[key]}`);
  if (!["i8", "f16", "f32"].includes(p.quantization))
    throw new UserError(`approximate index: quantization must be i8, f16 or f32, got '${p.quantization}'`);
}

function readHeader(file: string): { count: number; stats: HnswStats } {
  let h: { format?: unknown; count?: unknown; stats?: HnswStats };
  try {
    h = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new UserError(`${file}: missing or not valid JSON; the approximate index is corrupted`);
  }
  if (h?.format !== FORMAT) throw inputError({ file, field: "format" }, `expected '${FORMAT}'`);
  if (typeof h.count !== "number" || !Number.isInteger(h.count) || h.count < 0)
    throw inputError({ file, field: "count" }, "expected an integer ≥ 0");
  const s = h.stats;
  if (!s || typeof s !== "object" || typeof s.items !== "number" || !s.params)
    throw inputError({ file, field: "stats" }, "expected {items, params, recallAt10, …}");
  checkParams({ ...DEFAULT_HNSW, ...s.params });
  return { count: h.count, stats: s };
}

/** Flush a file's contents to disk. */
async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
