/**
 * An index folder of either backend behind one set of async calls: the exact in-memory `VectorIndex`
 * (each `commit` a generation that reuses the previous one's segment files and writes the rows added
 * since, off the event loop: `VectorIndex.savePlan`), with its approximate HNSW graph when one was built (hnsw.ts), or
 * `LanceIndex` on LanceDB (each write committed as it happens). The image index commands and the search
 * service open folders through here, so both backends work everywhere.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";
import { writeJsonAtomic } from "../util/fs.js";
import { currentFiles, hasGenerations } from "./generations.js";
import { commitGenerationAsync, linkIntoGeneration, writeNewFileAsync } from "./generations-async.js";
import { type HnswBuildOptions, HnswIndex, type HnswStats, type HnswStatus } from "./hnsw.js";
import { type Json, type SearchHit, type StoredItem, VectorIndex } from "./index.js";
import { isLanceIndex, LanceIndex } from "./lance.js";

export const INDEX_BACKENDS = ["exact", "lance"] as const;
export type IndexBackend = (typeof INDEX_BACKENDS)[number];

export interface IndexStore {
  readonly backend: IndexBackend;
  readonly dim: number;
  size(): Promise<number>;
  has(id: string): Promise<boolean>;
  /** These items (vector and metadata) in the order asked; undefined for ids not stored. */
  items(ids: readonly string[]): Promise<(StoredItem | undefined)[]>;
  /** The subset of `ids` already stored (one pass, not one query per id). */
  existing(ids: readonly string[]): Promise<Set<string>>;
  add(ids: readonly string[], vectors: Float32Array, meta?: readonly (Json | undefined)[]): Promise<void>;
  remove(ids: readonly string[]): Promise<number>;
  searchAsync(query: Float32Array, k: number): Promise<SearchHit[]>;
  /**
   * Make the writes so far durable, with `files` (JSON files, name → value, such as model.json) that
   * belong to this state of the index: the exact index writes a new generation holding both and makes it
   * current in one atomic step (generations.ts); LanceDB has committed each write already, and the files
   * are replaced atomically one by one.
   */
  commit(files?: Readonly<Record<string, unknown>>): Promise<void>;
  /** The approximate (HNSW) index's state: exact backend only. */
  approximate(): HnswStatus;
  /**
   * Build (or rebuild) the approximate index in the background; searches stay exact until it is ready.
   * `commit` then saves it with the index. Exact backend only.
   */
  buildApproximate(opts?: HnswBuildOptions): Promise<HnswStats>;
  close(): void;
}

/** True when `dir` holds an index of either backend. */
export function isIndexDir(dir: string): boolean {
  return existsSync(join(dir, "header.json")) || hasGenerations(dir) || isLanceIndex(dir);
}

export interface OpenStoreOptions {
  /** Leave a saved approximate index unused: every search is the exact scan. */
  exact?: boolean;
}

export async function openIndexStore(dir: string, opts: OpenStoreOptions = {}): Promise<IndexStore> {
  if (isLanceIndex(dir)) return lanceStore(await LanceIndex.open(dir));
  const files = currentFiles(dir);
  const index = VectorIndex.load(dir);
  // The graph belongs to the generation the vectors came from (a writer may have moved on meanwhile).
  const graphFolder = currentFiles(dir) === files ? files : undefined;
  const hnsw =
    opts.exact || graphFolder === undefined ? new HnswIndex(index) : await HnswIndex.open(index, graphFolder);
  return exactStore(index, dir, hnsw);
}

export async function createIndexStore(
  dir: string,
  dim: number,
  backend: IndexBackend = "exact",
): Promise<IndexStore> {
  if (!(INDEX_BACKENDS as readonly string[]).includes(backend))
    throw new UserError(`index backend: expected ${INDEX_BACKENDS.join(" or ")}, got '${backend}'`);
  return backend === "lance"
    ? lanceStore(await LanceIndex.create(dir, dim))
    : exactStore(VectorIndex.create(dim), dir);
}

const NOT_EXACT =
  "the approximate HNSW index is for the exact backend (a lance index has buildApproximate: IVF-PQ)";

function exactStore(index: VectorIndex, dir: string, hnsw = new HnswIndex(index)): IndexStore {
  return {
    backend: "exact",
    dim: index.dim,
    size: async () => index.size,
    has: async (id) => index.has(id),
    items: async (ids) => ids.map((id) => index.item(id)),
    existing: async (ids) => new Set(ids.filter((id) => index.has(id))),
    add: async (ids, vectors, meta) => {
      index.add(ids, vectors, meta);
      hnsw.added(ids);
    },
    remove: async (ids) => {
      const n = index.remove(ids);
      hnsw.removed(ids);
      return n;
    },
    searchAsync: (q, k) => hnsw.search(q, k),
    commit: async (files = {}) => {
      // What to write is settled now (synchronously); the writing runs off the event loop.
      const ids = index.liveIds();
      const plan = index.savePlan();
      try {
        const folder = await commitGenerationAsync(dir, async (folder) => {
          for (const f of plan.link) await linkIntoGeneration(f.from, join(folder, f.name));
          for (const f of plan.write) await writeNewFileAsync(join(folder, f.name), f.data);
          await hnsw.save(folder, ids);
          for (const [name, value] of Object.entries(files))
            await writeNewFileAsync(join(folder, name), `${JSON.stringify(value, null, 2)}\n`);
        });
        plan.saved(folder);
        hnsw.committed(folder);
      } finally {
        plan.release();
      }
    },
    approximate: () => hnsw.status,
    buildApproximate: (opts) => hnsw.build(opts),
    close: () => {
      void hnsw.close();
    },
  };
}

function lanceStore(index: LanceIndex): IndexStore {
  return {
    backend: "lance",
    dim: index.dim,
    size: () => index.size(),
    has: (id) => index.has(id),
    items: (ids) => index.items(ids),
    existing: (ids) => index.existing(ids),
    add: (ids, vectors, meta) => index.add(ids, vectors, meta),
    remove: (ids) => index.remove(ids),
    searchAsync: (q, k) => index.searchAsync(q, k),
    commit: async (files = {}) => {
      for (const [name, value] of Object.entries(files)) writeJsonAtomic(join(index.dir, name), value);
    },
    approximate: () => ({ state: "none", pending: 0 }),
    buildApproximate: async () => {
      throw new UserError(NOT_EXACT);
    },
    close: () => index.close(),
  };
}
