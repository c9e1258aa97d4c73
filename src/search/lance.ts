/**
 * A vector index on LanceDB (embedded columnar storage on disk; optional dependency `@lancedb/lancedb`),
 * for corpora larger than memory or opened by several readers at once. It answers the same calls as the
 * in-memory `VectorIndex` (add, remove, has, size, searchAsync, searchBatchAsync) with the same scores
 * (cosine on L2-normalized rows, or dot), and adds what a database gives: every write is committed on
 * its own (a new table version, so a crash leaves the previous version), metadata filters on search, and
 * an approximate IVF-PQ index whose candidates are re-ranked with the exact vectors.
 *
 * Layout: the folder holds LanceDB's `items.lance` table (id, vector, meta as JSON text) and
 * `lance-index.json` (format, dim, metric) beside it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { inputError, jsonErrorMessage, UserError } from "../util/errors.js";
import { ensureDir, writeJsonAtomic } from "../util/fs.js";
import type { Json, Metric, SearchHit, StoredItem } from "./index.js";
import { normalizeRow } from "./kernels.js";

const FORMAT = "juxta-lance-index";
export const LANCE_HEADER = "lance-index.json";
const TABLE = "items";

type Lance = typeof import("@lancedb/lancedb");
type Table = Awaited<ReturnType<Awaited<ReturnType<Lance["connect"]>>["openTable"]>>;

async function lance(): Promise<{ lancedb: Lance; arrow: typeof import("apache-arrow") }> {
  // LanceDB's Rust core logs deprecation notes to stderr unless told otherwise.
  process.env.LANCE_LOG ??= "error";
  try {
    return { lancedb: await import("@lancedb/lancedb"), arrow: await import("apache-arrow") };
  } catch {
    throw new UserError(
      "the lance index backend needs the optional packages @lancedb/lancedb and apache-arrow: npm install -E @lancedb/lancedb@0.31.0 apache-arrow@18.1.0",
    );
  }
}

/** True when `dir` holds a LanceDB index written by Juxta. */
export function isLanceIndex(dir: string): boolean {
  return existsSync(join(dir, LANCE_HEADER));
}

export interface LanceSearchOptions {
  /** A LanceDB SQL predicate on the stored columns, applied before ranking, e.g. `meta LIKE '%"label":"cat"%'`. */
  where?: string;
  /** IVF lists probed when an approximate index exists (default 20). */
  nprobes?: number;
  /** Candidates re-ranked with the exact vectors, as a multiple of k (default 10). */
  refine?: number;
}

export class LanceIndex {
  private constructor(
    readonly dir: string,
    readonly dim: number,
    readonly metric: Metric,
    private readonly table: Table,
  ) {}

  /** A new, empty index in `dir` (which must not hold one). */
  static async create(dir: string, dim: number, opts: { metric?: Metric } = {}): Promise<LanceIndex> {
    if (!Number.isInteger(dim) || dim < 1)
      throw new UserError(`lance index: dimension must be ≥ 1, got ${dim}`);
    if (isLanceIndex(dir)) throw new UserError(`${dir}: an index is already there`);
    const metric = opts.metric ?? "cosine";
    const { lancedb, arrow } = await lance();
    ensureDir(dir);
    const db = await lancedb.connect(dir);
    const schema = new arrow.Schema([
      new arrow.Field("id", new arrow.Utf8(), false),
      new arrow.Field(
        "vector",
        new arrow.FixedSizeList(dim, new arrow.Field("item", new arrow.Float32(), true)),
        false,
      ),
      new arrow.Field("meta", new arrow.Utf8(), true),
    ]);
    const table = await db.createEmptyTable(TABLE, schema, { mode: "overwrite" });
    writeJsonAtomic(join(dir, LANCE_HEADER), { format: FORMAT, version: 1, dim, metric });
    return new LanceIndex(dir, dim, metric, table);
  }

  static async open(dir: string): Promise<LanceIndex> {
    const file = join(dir, LANCE_HEADER);
    if (!existsSync(file)) throw new UserError(`${dir}: not a lance index (no ${LANCE_HEADER})`);
    let h: { format?: unknown; dim?: unknown; metric?: unknown };
    try {
      h = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new UserError(`${file}: not valid JSON (${jsonErrorMessage(e)})`);
    }
    if (h?.format !== FORMAT) throw inputError({ file, field: "format" }, `expected '${FORMAT}'`);
    if (!Number.isInteger(h.dim) || (h.dim as number) < 1)
      throw inputError({ file, field: "dim" }, "expected a positive integer");
    if (h.metric !== "cosine" && h.metric !== "dot")
      throw inputError({ file, field: "metric" }, "expected 'cosine' or 'dot'");
    const { lancedb } = await lance();
    const db = await lancedb.connect(dir);
    return new LanceIndex(dir, h.dim as number, h.metric, await db.openTable(TABLE));
  }

  async size(): Promise<number> {
    return this.table.countRows();
  }

  async has(id: string): Promise<boolean> {
    return (await this.table.countRows(`id = ${quote(id)}`)) > 0;
  }

  /** The subset of `ids` already stored, found in batched queries (one per 500 ids). */
  async existing(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const rows = await this.table
        .query()
        .where(`id IN (${batch.map(quote).join(", ")})`)
        .select(["id"])
        .limit(batch.length)
        .toArray();
      for (const r of rows) found.add(String(r.id));
    }
    return found;
  }

  /** These items (vector and metadata), in the order asked; undefined for ids not stored. */
  async items(ids: readonly string[]): Promise<(StoredItem | undefined)[]> {
    const found = new Map<string, StoredItem>();
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const rows = await this.table
        .query()
        .where(`id IN (${batch.map(quote).join(", ")})`)
        .select(["id", "vector", "meta"])
        .limit(batch.length)
        .toArray();
      for (const r of rows) {
        const item: StoredItem = {
          id: String(r.id),
          vector: Float32Array.from(r.vector as ArrayLike<number>),
        };
        if (r.meta !== null && r.meta !== undefined) item.meta = JSON.parse(String(r.meta)) as Json;
        found.set(item.id, item);
      }
    }
    return ids.map((id) => found.get(id));
  }

  /** Add rows [ids.length, dim] in one committed write; ids must be new (like VectorIndex.add). */
  async add(
    ids: readonly string[],
    vectors: Float32Array,
    meta?: readonly (Json | undefined)[],
  ): Promise<void> {
    if (vectors.length !== ids.length * this.dim)
      throw new UserError(`lance index: ${vectors.length} values for ${ids.length} ids of ${this.dim} dims`);
    if (new Set(ids).size !== ids.length) throw new UserError("lance index: the same id twice in one add");
    for (let i = 0; i < ids.length; i += 500) {
      const taken = await this.table
        .query()
        .where(
          `id IN (${ids
            .slice(i, i + 500)
            .map(quote)
            .join(", ")})`,
        )
        .select(["id"])
        .limit(1)
        .toArray();
      if (taken.length > 0) throw new UserError(`lance index: id '${taken[0].id}' is already in ${this.dir}`);
    }
    const rows = ids.map((id, r) => {
      const v = vectors.slice(r * this.dim, (r + 1) * this.dim);
      if (this.metric === "cosine" && !normalizeRow(v, 0, this.dim))
        throw new UserError(`lance index: vector ${r} ('${id}') is zero or not finite`);
      const m = meta?.[r];
      return { id, vector: Array.from(v), meta: m === undefined ? null : JSON.stringify(m) };
    });
    if (rows.length > 0) await this.table.add(rows);
  }

  /** Remove these ids; returns how many were there. */
  async remove(ids: readonly string[]): Promise<number> {
    let removed = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const where = `id IN (${ids
        .slice(i, i + 500)
        .map(quote)
        .join(", ")})`;
      const n = await this.table.countRows(where);
      if (n > 0) await this.table.delete(where);
      removed += n;
    }
    return removed;
  }

  /** Build the approximate IVF-PQ index (searches use it from then on, re-ranking with exact vectors). */
  async buildApproximate(opts: { partitions?: number; subVectors?: number } = {}): Promise<void> {
    const { lancedb } = await lance();
    const n = await this.size();
    const partitions = opts.partitions ?? Math.max(1, Math.round(Math.sqrt(n)));
    const subVectors =
      opts.subVectors ?? (this.dim % 16 === 0 ? this.dim / 8 : this.dim % 8 === 0 ? this.dim / 4 : 1);
    await this.table.createIndex("vector", {
      config: lancedb.Index.ivfPq({
        numPartitions: partitions,
        numSubVectors: subVectors,
        distanceType: "dot",
      }),
      replace: true,
    });
  }

  async searchAsync(query: Float32Array, k: number, opts: LanceSearchOptions = {}): Promise<SearchHit[]> {
    if (query.length !== this.dim)
      throw new UserError(`lance index: query has ${query.length} dims, expected ${this.dim}`);
    if (!Number.isInteger(k) || k < 1) throw new UserError(`lance index: k must be an integer ≥ 1, got ${k}`);
    const q = query.slice();
    if (this.metric === "cosine" && !normalizeRow(q, 0, this.dim))
      throw new UserError("lance index: the query is zero or not finite");
    let search = this.table
      .vectorSearch(Array.from(q))
      .distanceType("dot")
      .limit(k)
      .nprobes(opts.nprobes ?? 20)
      .refineFactor(opts.refine ?? 10)
      .select(["id", "meta", "_distance"]);
    if (opts.where) search = search.where(opts.where);
    const rows = await search.toArray();
    // LanceDB's dot "distance" is 1 − x·q.
    return rows.map((r) => {
      const hit: SearchHit = { id: String(r.id), score: 1 - Number(r._distance) };
      if (r.meta !== null && r.meta !== undefined) hit.meta = JSON.parse(String(r.meta)) as Json;
      return hit;
    });
  }

  async searchBatchAsync(
    queries: Float32Array,
    k: number,
    opts: LanceSearchOptions = {},
  ): Promise<SearchHit[][]> {
    const out: SearchHit[][] = [];
    for (let i = 0; i < queries.length / this.dim; i++)
      out.push(await this.searchAsync(queries.subarray(i * this.dim, (i + 1) * this.dim), k, opts));
    return out;
  }

  close(): void {
    this.table.close();
  }
}

/** A SQL string literal. */
function quote(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
