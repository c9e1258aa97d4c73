/**
 * A persistent exact vector index: every query is scored against every stored vector (a tight dot-product
 * loop feeding a fixed-size top-K heap), so results are exact and ties are broken by insertion order.
 *
 * On disk a saved index is a folder of three files (format version 1):
 *   header.json    format, version, dim, metric, count, byte sizes
 *   vectors.f32    count × dim little-endian float32, row per item
 *   items.jsonl    one {"id", "meta"?} object a line, in row order
 * Each file is written to a temporary name and renamed into place, the header last, and loading checks the
 * header against both files, so a torn or corrupted save is reported rather than read. `save` writes one
 * folder; an index that is updated in place (juxta index, juxta serve) keeps such folders as generations
 * (generations.ts), and `load` reads the current one. A generation may hold its rows in segments
 * (version 2, `savePlan`): `vectors.f32`/`items.jsonl` for the first rows, then `vectors-S.f32`/
 * `items-S.jsonl` for the rows from S on, shared by hard link with the generations before it, and
 * `removed.u32` listing removed rows; the header lists each segment with its byte sizes.
 * Removal marks rows dead (tombstones); `save` compacts them away, and so does `add` once they are the
 * majority.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";
import { inputError, UserError } from "../util/errors.js";
import { ensureDir } from "../util/fs.js";
import { engineTopK } from "./engine-scan.js";
import { currentFiles, writeNewFile } from "./generations.js";
import { Int8Copy, int8TopK } from "./int8-scan.js";
import { dot, normalizeRow, rowCount, TopK } from "./kernels.js";

/** Stored values (rows × dim) from which a scan runs on ONNX Runtime rather than in JavaScript. */
const ENGINE_SCAN_MIN = 2 ** 20;
/** Queries one batched scan takes at most (its score matrix is this many rows × the index's rows). */
const MAX_SCAN_BATCH = 64;

export type Metric = "cosine" | "dot";

/** Metadata stored with a vector: anything JSON can hold. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SearchHit {
  id: string;
  /** Cosine similarity (metric 'cosine') or dot product (metric 'dot'); higher is closer. */
  score: number;
  meta?: Json;
}

/** An item as stored: its id, vector and metadata. */
export interface StoredItem {
  id: string;
  vector: Float32Array;
  meta?: Json;
}

const FORMAT = "juxta-vector-index";
/** Vector sizes an index accepts (embedding sizes are in the hundreds or thousands). */
export const MAX_DIM = 1 << 16;
const HEADER = "header.json";
const VECTORS = "vectors.f32";
const ITEMS = "items.jsonl";
const REMOVED = "removed.u32";
/** A segment's file names: its first row's number after the dash (none for row 0). */
const SEGMENT_FILE = /^(vectors|items)(?:-([1-9]\d*))?\.(f32|jsonl)$/;

/** Files for a new generation of an index (`VectorIndex.savePlan`). */
export interface SavePlan {
  /** Files of the previous generation to reuse as they are (hard links): absolute path, name in the new one. */
  link: { from: string; name: string }[];
  /** Files to write, in order (header.json last). */
  write: { name: string; data: Uint8Array }[];
  /** Record that `folder` (holding these files) is now the index's current generation. */
  saved(folder: string): void;
  /** The plan is written or given up: the index may compact its rows again (call it in any case). */
  release(): void;
}

export class VectorIndex {
  /** Row-major vectors; capacity grows by doubling, rows past `rows` are unused. */
  private data: Float32Array;
  private rows = 0;
  private ids: string[] = [];
  private metas: (Json | undefined)[] = [];
  private alive: Uint8Array;
  private slots = new Map<string, number>();
  /** Bumped whenever rows are renumbered (compaction), so a scan that ran across it knows to run again. */
  private epoch = 0;
  private waiting: WaitingQuery[] = [];
  /** The segment files this index was last loaded from or saved to as a generation (savePlan reuses them). */
  private disk?: { folder: string; segments: HeaderSegment[]; rows: number; epoch: number };
  /** Save plans handed out and not yet released. */
  private plans = 0;
  private scanning = false;
  /** The int8 copy the engine scan reads first (int8-scan.ts), made at the second engine scan. */
  private int8?: Int8Copy;
  private engineScans = 0;

  private constructor(
    readonly dim: number,
    readonly metric: Metric,
    capacity: number,
  ) {
    this.data = new Float32Array(capacity * dim);
    this.alive = new Uint8Array(capacity);
  }

  /** An empty index; with metric 'cosine' (the default) vectors and queries are L2-normalized. */
  static create(dim: number, opts: { metric?: Metric } = {}): VectorIndex {
    if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM)
      throw new UserError(`vector index: dimension must be from 1 to ${MAX_DIM}, got ${dim}`);
    const metric = opts.metric ?? "cosine";
    if (metric !== "cosine" && metric !== "dot")
      throw new UserError(`vector index: metric must be 'cosine' or 'dot', got '${metric}'`);
    return new VectorIndex(dim, metric, 16);
  }

  /** Live vectors. */
  get size(): number {
    return this.slots.size;
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  /** One item: its stored vector (normalized under 'cosine', a copy) and metadata; undefined if absent. */
  item(id: string): StoredItem | undefined {
    const slot = this.slots.get(id);
    if (slot === undefined) return undefined;
    const vector = this.data.slice(slot * this.dim, (slot + 1) * this.dim);
    const meta = this.metas[slot];
    return meta === undefined ? { id, vector } : { id, vector, meta };
  }

  /** The live items in index order: ids, a copy of their vectors (as stored) and metadata. */
  entries(): { ids: string[]; vectors: Float32Array; metas: (Json | undefined)[] } {
    const ids: string[] = [];
    const metas: (Json | undefined)[] = [];
    const vectors = new Float32Array(this.slots.size * this.dim);
    for (let r = 0; r < this.rows; r++) {
      if (!this.alive[r]) continue;
      vectors.set(this.data.subarray(r * this.dim, (r + 1) * this.dim), ids.length * this.dim);
      ids.push(this.ids[r] as string);
      metas.push(this.metas[r]);
    }
    return { ids, vectors, metas };
  }

  /** The live ids in row order: the order `save` writes them (and `entries` lists them). */
  liveIds(): string[] {
    const ids: string[] = [];
    for (let r = 0; r < this.rows; r++) if (this.alive[r]) ids.push(this.ids[r] as string);
    return ids;
  }

  /**
   * The exact scores of these items (ids not stored are ignored) against `query`, the best k, best first:
   * the re-ranking step of an approximate search. Ties go to the earlier row, as in `search`.
   */
  rank(query: Float32Array, ids: Iterable<string>, k: number): SearchHit[] {
    if (query.length !== this.dim)
      throw new UserError(`vector index: query has ${query.length} values, index is ${this.dim}-d`);
    const q = query.slice();
    this.checkRow(q, 0, "query");
    const heap = new TopK(Math.max(0, Math.min(k, this.size)));
    const seen = new Set<number>();
    for (const id of ids) {
      const slot = this.slots.get(id);
      if (slot === undefined || seen.has(slot)) continue;
      seen.add(slot);
      heap.push(dot(q, 0, this.data, slot * this.dim, this.dim), slot);
    }
    return heap.sorted().map(({ index, score }) => {
      const hit: SearchHit = { id: this.ids[index] as string, score };
      const meta = this.metas[index];
      if (meta !== undefined) hit.meta = meta;
      return hit;
    });
  }

  /** Add vectors (row per id); an id already in the index, or repeated, is a UserError. */
  add(ids: readonly string[], vectors: Float32Array, meta?: readonly (Json | undefined)[]): void {
    const n = rowCount(vectors, this.dim, "vector index: add");
    if (n !== ids.length) throw new UserError(`vector index: ${ids.length} ids but ${n} vectors`);
    if (meta && meta.length !== n)
      throw new UserError(`vector index: ${n} vectors but ${meta.length} metadata`);
    const fresh = new Set<string>();
    for (const id of ids) {
      if (typeof id !== "string") throw new UserError(`vector index: ids must be strings, got ${typeof id}`);
      if (this.slots.has(id) || fresh.has(id))
        throw new UserError(`vector index: id '${id}' is already present (remove it first to replace it)`);
      fresh.add(id);
    }
    const rows = vectors.slice();
    for (let r = 0; r < n; r++) this.checkRow(rows, r, `vector for id '${ids[r]}'`);
    // Reclaim tombstones once they are the majority, so remove/add churn cannot grow memory without bound.
    // Not while a save plan is being written: its files are views of the rows as they are.
    if (2 * (this.rows - this.slots.size) > this.rows && this.plans === 0) this.compact();
    this.reserve(this.rows + n);
    this.data.set(rows, this.rows * this.dim);
    for (let r = 0; r < n; r++) {
      const slot = this.rows + r;
      this.ids[slot] = ids[r] as string;
      this.metas[slot] = meta?.[r];
      this.alive[slot] = 1;
      this.slots.set(ids[r] as string, slot);
    }
    this.rows += n;
  }

  /** Remove these ids (unknown ones are ignored); returns how many were removed. */
  remove(ids: readonly string[]): number {
    let removed = 0;
    for (const id of ids) {
      const slot = this.slots.get(id);
      if (slot === undefined) continue;
      this.slots.delete(id);
      this.alive[slot] = 0;
      this.metas[slot] = undefined;
      removed++;
    }
    return removed;
  }

  /** The k closest vectors to `query`, best first (fewer when the index holds fewer). */
  search(query: Float32Array, k: number): SearchHit[] {
    if (query.length !== this.dim)
      throw new UserError(`vector index: query has ${query.length} values, index is ${this.dim}-d`);
    return this.searchBatch(query, k)[0] as SearchHit[];
  }

  /**
   * `searchBatch` on ONNX Runtime when the index is large (≥ 2^20 stored values), else the same exact loop:
   * the scan of a 100k × 256 index drops from ~35 ms to ~9 ms (see engine-scan.ts for the float32 caveat).
   */
  async searchBatchAsync(queries: Float32Array, k: number): Promise<SearchHit[][]> {
    if (this.rows * this.dim < ENGINE_SCAN_MIN) return this.searchBatch(queries, k);
    const nq = rowCount(queries, this.dim, "vector index: queries");
    checkK(k);
    const q = queries.slice();
    for (let r = 0; r < nq; r++) this.checkRow(q, r, `query ${r}`);
    return this.engineScan(q, new Array(nq).fill(k));
  }

  /**
   * `search`, on ONNX Runtime for large indexes (see `searchBatchAsync`). Queries that arrive while a scan
   * runs (or in the same turn of the event loop) are scanned together in the next one: reading the
   * vectors once for a batch of queries costs about what it costs for one (the scan is memory-bound), so
   * concurrent searches (a server's) do not queue up one full scan each.
   */
  async searchAsync(query: Float32Array, k: number): Promise<SearchHit[]> {
    if (query.length !== this.dim)
      throw new UserError(`vector index: query has ${query.length} values, index is ${this.dim}-d`);
    if (this.rows * this.dim < ENGINE_SCAN_MIN) return this.search(query, k);
    checkK(k);
    const q = query.slice();
    this.checkRow(q, 0, "query");
    return new Promise((resolve, reject) => {
      this.waiting.push({ query: q, k, resolve, reject });
      this.pumpScans();
    });
  }

  /** Start the next batched scan of the waiting queries, unless one is running or scheduled. */
  private pumpScans(): void {
    if (this.scanning || this.waiting.length === 0) return;
    this.scanning = true;
    // One turn later, so that the queries arriving together (a batch of embeddings resolved at once) share it.
    nextTurn(() => {
      const batch = this.waiting.splice(0, MAX_SCAN_BATCH);
      const q = new Float32Array(batch.length * this.dim);
      batch.forEach((b, r) => {
        q.set(b.query, r * this.dim);
      });
      this.engineScan(
        q,
        batch.map((b) => b.k),
      )
        .then(
          (hits) => {
            for (const [r, b] of batch.entries()) b.resolve(hits[r] as SearchHit[]);
          },
          (e: Error) => {
            for (const b of batch) b.reject(e);
          },
        )
        .finally(() => {
          this.scanning = false;
          this.pumpScans();
        });
    });
  }

  /**
   * The exact top `ks[r]` of each (checked, normalized) query row, in one ONNX Runtime scan. The index may
   * change while the scan runs: rows removed meanwhile are skipped, and if rows were renumbered
   * (compacted) or removals left a query short of its k, the scan runs again.
   */
  private async engineScan(q: Float32Array, ks: number[]): Promise<SearchHit[][]> {
    for (;;) {
      const epoch = this.epoch;
      const rows = this.rows;
      const want = ks.map((k) => Math.min(k, this.size));
      // Removed rows are still in the matrix: ask for enough extra to drop them and keep k.
      const dead = rows - this.slots.size;
      const k = Math.max(0, ...want) + dead;
      const top =
        (await this.int8Scan(q, want, k, rows)) ?? (await engineTopK(q, this.data, rows, this.dim, k));
      if (this.epoch !== epoch) continue;
      const out: SearchHit[][] = [];
      let short = false;
      for (const [r, k] of want.entries()) {
        const hits: SearchHit[] = [];
        for (let j = 0; j < top.k && hits.length < k; j++) {
          const index = Number(top.rows[r * top.k + j]);
          if (!this.alive[index]) continue;
          const hit: SearchHit = {
            id: this.ids[index] as string,
            score: top.scores[r * top.k + j] as number,
          };
          const meta = this.metas[index];
          if (meta !== undefined) hit.meta = meta;
          hits.push(hit);
        }
        if (hits.length < Math.min(k, this.size) && top.k < rows) short = true;
        out.push(hits);
      }
      if (!short) return out;
    }
  }

  /**
   * The engine scan through the int8 copy, or undefined where its bound could not prove the answer. Not at
   * the first scan: a process that searches once (juxta search) would spend more coding every row than
   * the int8 scan saves it.
   */
  private async int8Scan(q: Float32Array, want: number[], k: number, rows: number) {
    if (++this.engineScans < 2) return undefined;
    this.int8 ??= new Int8Copy(this.dim);
    this.int8.sync(this.data, rows, this.epoch);
    return int8TopK(this.int8, this.data, rows, this.alive, q, want, k);
  }

  /** `search` for each row of `queries` (row-major, `dim` values a row). */
  searchBatch(queries: Float32Array, k: number): SearchHit[][] {
    const nq = rowCount(queries, this.dim, "vector index: queries");
    checkK(k);
    const q = queries.slice();
    for (let r = 0; r < nq; r++) this.checkRow(q, r, `query ${r}`);
    const heap = new TopK(Math.min(k, this.size));
    const out: SearchHit[][] = [];
    for (let r = 0; r < nq; r++) {
      heap.clear();
      scan(q.subarray(r * this.dim, (r + 1) * this.dim), this.data, this.alive, this.rows, this.dim, heap);
      out.push(
        heap.sorted().map(({ index, score }) => {
          const hit: SearchHit = { id: this.ids[index] as string, score };
          const meta = this.metas[index];
          if (meta !== undefined) hit.meta = meta;
          return hit;
        }),
      );
    }
    return out;
  }

  /**
   * Write the live vectors to `dir` (created if needed), compacting removed rows away. Each file is
   * replaced atomically; with `fresh` the folder is new and unread (a generation being written), so
   * its files are written straight.
   */
  save(dir: string, opts: { fresh?: boolean } = {}): void {
    const put = opts.fresh ? writeNewFile : writeAtomic;
    this.compact();
    ensureDir(dir);
    const seg = this.segmentFile(0, this.rows);
    put(join(dir, VECTORS), seg.vectors);
    put(join(dir, ITEMS), seg.items);
    const header = this.headerJson([seg.header], 0);
    put(join(dir, HEADER), Buffer.from(`${JSON.stringify(header, null, 2)}\n`, "utf8"));
  }

  /**
   * Read an index saved by `save`, or the current generation of an index folder (generations.ts); a
   * missing, inconsistent or corrupted file is a UserError.
   */
  static load(dir: string): VectorIndex {
    const files = currentFiles(dir);
    try {
      return VectorIndex.loadFiles(files);
    } catch (e) {
      // A writer may have made a newer generation current (and removed this one) while it was read.
      if (currentFiles(dir) !== files) return VectorIndex.loadFiles(currentFiles(dir));
      throw e;
    }
  }

  private static loadFiles(dir: string): VectorIndex {
    if (endianness() !== "LE") throw new Error("vector index files are little-endian; this machine is not");
    const headerFile = join(dir, HEADER);
    const header = readHeader(headerFile);
    const rowBytes = header.dim * 4;
    // Every file's size is checked before anything is allocated for it.
    for (const seg of header.segments) {
      const vectorsFile = join(dir, seg.vectors);
      const itemsFile = join(dir, seg.items);
      const expected = seg.rows * rowBytes;
      const vectorBytes = fileSize(vectorsFile);
      if (seg.vectors_bytes !== expected || vectorBytes !== expected)
        throw new UserError(
          `${vectorsFile}: ${vectorBytes} bytes, expected ${expected} (${seg.rows} × ${header.dim} float32) ` +
            `as ${headerFile} says; the index is incomplete or corrupted`,
        );
      const itemsBytes = fileSize(itemsFile);
      if (itemsBytes !== seg.items_bytes)
        throw new UserError(
          `${itemsFile}: ${itemsBytes} bytes, expected ${seg.items_bytes} as ${headerFile} says; ` +
            `the index is incomplete or corrupted`,
        );
    }
    const index = new VectorIndex(header.dim, header.metric, Math.max(16, header.count));
    for (const seg of header.segments) {
      const vectorsFile = join(dir, seg.vectors);
      const itemsFile = join(dir, seg.items);
      const expected = seg.rows * rowBytes;
      // Copied bytewise: the file's bytes need not sit at a 4-byte-aligned offset of their buffer.
      new Uint8Array(index.data.buffer, seg.start * rowBytes, expected).set(readFileSync(vectorsFile));
      const lines = readFileSync(itemsFile, "utf8").split("\n");
      if (lines.at(-1) === "") lines.pop();
      if (lines.length !== seg.rows)
        throw inputError(
          { file: itemsFile },
          `${lines.length} lines, expected ${seg.rows} as the header says`,
        );
      lines.forEach((line, i) => {
        const loc = { file: itemsFile, line: i + 1 };
        let item: unknown;
        try {
          item = JSON.parse(line);
        } catch {
          throw inputError(loc, 'expected a JSON object {"id": …}');
        }
        const id = (item as { id?: unknown } | null)?.id;
        if (typeof id !== "string") throw inputError({ ...loc, field: "id" }, "expected a string");
        const r = seg.start + i;
        index.ids[r] = id;
        index.metas[r] = (item as { meta?: Json }).meta;
        index.alive[r] = 1;
        for (let j = 0; j < header.dim; j++)
          if (!Number.isFinite(index.data[r * header.dim + j]))
            throw new UserError(
              `${vectorsFile}: row ${i} (id '${id}') holds a non-finite value; the file is corrupted`,
            );
      });
    }
    if (header.removed > 0) {
      const file = join(dir, REMOVED);
      const size = fileSize(file);
      if (size !== header.removed * 4)
        throw new UserError(
          `${file}: ${size} bytes, expected ${header.removed * 4} as ${headerFile} says; the index is corrupted`,
        );
      const bytes = readFileSync(file);
      for (let i = 0; i < header.removed; i++) {
        const r = bytes.readUInt32LE(i * 4);
        if (r >= header.count || !index.alive[r])
          throw new UserError(
            `${file}: entry ${i} (row ${r}) is out of range or repeated; the index is corrupted`,
          );
        index.alive[r] = 0;
        index.metas[r] = undefined;
      }
    }
    // An id may appear twice only where its earlier row was removed (removed, then added again).
    for (let r = 0; r < header.count; r++) {
      if (!index.alive[r]) continue;
      const id = index.ids[r] as string;
      if (index.slots.has(id)) {
        const seg = header.segments.find((g) => r < g.start + g.rows) as HeaderSegment;
        throw inputError(
          { file: join(dir, seg.items), line: r - seg.start + 1, field: "id" },
          `'${id}' appears twice`,
        );
      }
      index.slots.set(id, r);
    }
    index.rows = header.count;
    index.disk = { folder: dir, segments: header.segments, rows: header.count, epoch: index.epoch };
    return index;
  }

  /**
   * What to put in a new generation folder (generations.ts) for this index as it is now: the segment
   * files of the folder it was last loaded from or saved to are reused (hard-linked) as they are, and
   * only the rows added since are written, as a new segment. Tail segments are merged as they grow (a
   * segment is rewritten with the rows after it once those are at least half its size), so a folder
   * holds O(log rows) segments and each row is rewritten O(log rows) times; removed rows are listed in
   * `removed.u32` until they are more than a quarter of the rows, and then the whole index is written
   * again, compacted. An index with one segment and no removed rows is written exactly as `save`
   * writes it (format version 1). The plan holds no I/O: the caller links and writes (off the event
   * loop) and calls `saved` once the folder is current.
   */
  savePlan(): SavePlan {
    const disk = this.disk;
    const dead = this.rows - this.slots.size;
    let keep: HeaderSegment[] = [];
    let start = 0;
    if (disk && disk.epoch === this.epoch && disk.rows <= this.rows && dead * 4 <= this.rows) {
      keep = disk.segments.slice();
      start = disk.rows;
      // Merge the tail: a segment takes in the rows after it once they are at least half its size.
      while (keep.length > 0 && (keep.at(-1) as HeaderSegment).rows <= 2 * (this.rows - start))
        start = (keep.pop() as HeaderSegment).start;
    }
    if (start === 0) {
      keep = [];
      this.compact();
    }
    const link = keep.flatMap((g) => [g.vectors, g.items]);
    const from = disk?.folder as string;
    const write: { name: string; data: Uint8Array }[] = [];
    const segments = [...keep];
    if (start < this.rows || this.rows === 0) {
      const seg = this.segmentFile(start, this.rows - start);
      segments.push(seg.header);
      write.push(
        { name: seg.header.vectors, data: seg.vectors },
        { name: seg.header.items, data: seg.items },
      );
    }
    const removed = this.rows - this.slots.size;
    if (removed > 0) {
      const rows = new Uint32Array(removed);
      let n = 0;
      for (let r = 0; r < this.rows; r++) if (!this.alive[r]) rows[n++] = r;
      write.push({ name: REMOVED, data: new Uint8Array(rows.buffer) });
    }
    const header = this.headerJson(segments, removed);
    write.push({ name: HEADER, data: Buffer.from(`${JSON.stringify(header, null, 2)}\n`, "utf8") });
    const state = { segments, rows: this.rows, epoch: this.epoch };
    this.plans++;
    let held = true;
    return {
      link: link.map((name) => ({ from: join(from, name), name })),
      write,
      saved: (folder) => {
        this.disk = { folder, ...state };
      },
      release: () => {
        if (held) this.plans--;
        held = false;
      },
    };
  }

  /**
   * Rows [start, start + rows) as a segment's two files. The vectors are a view, not a copy (a 1M-row
   * index would hold a second GiB while it is written): rows are never changed in place except by
   * compaction, which waits for the plans to be released, and a buffer outgrown by `add` stays as it was.
   */
  private segmentFile(start: number, rows: number) {
    const lines: string[] = [];
    for (let r = start; r < start + rows; r++) {
      const id = this.ids[r] as string;
      const meta = this.metas[r];
      lines.push(`${JSON.stringify(meta === undefined ? { id } : { id, meta })}\n`);
    }
    const items = Buffer.from(lines.join(""), "utf8");
    const vectors = new Uint8Array(this.data.buffer, start * this.dim * 4, rows * this.dim * 4);
    const suffix = start === 0 ? "" : `-${start}`;
    const header: HeaderSegment = {
      start,
      rows,
      vectors: `vectors${suffix}.f32`,
      items: `items${suffix}.jsonl`,
      vectors_bytes: vectors.byteLength,
      items_bytes: items.byteLength,
    };
    return { header, vectors, items };
  }

  /** header.json: format version 1 for one segment and nothing removed (as `save` writes), else 2. */
  private headerJson(segments: HeaderSegment[], removed: number): Record<string, unknown> {
    const base = {
      format: FORMAT,
      version: 1,
      dim: this.dim,
      metric: this.metric,
      count: this.rows,
      dtype: "float32",
      byte_order: "little",
      vectors_bytes: segments.reduce((n, g) => n + g.vectors_bytes, 0),
      items_bytes: segments.reduce((n, g) => n + g.items_bytes, 0),
    };
    if (segments.length === 1 && removed === 0) return base;
    return {
      ...base,
      version: 2,
      segments: segments.map((g) => ({
        rows: g.rows,
        vectors: g.vectors,
        items: g.items,
        vectors_bytes: g.vectors_bytes,
        items_bytes: g.items_bytes,
      })),
      removed,
    };
  }

  /** Drop removed rows, keeping the order of the live ones. */
  private compact(): void {
    if (this.slots.size === this.rows) return;
    this.epoch++;
    let w = 0;
    for (let r = 0; r < this.rows; r++) {
      if (!this.alive[r]) continue;
      if (w !== r) {
        this.data.copyWithin(w * this.dim, r * this.dim, (r + 1) * this.dim);
        this.ids[w] = this.ids[r] as string;
        this.metas[w] = this.metas[r];
        this.alive[w] = 1;
        this.slots.set(this.ids[w] as string, w);
      }
      w++;
    }
    this.alive.fill(0, w, this.rows);
    this.ids.length = w;
    this.metas.length = w;
    this.rows = w;
  }

  private reserve(rows: number): void {
    const capacity = this.alive.length;
    if (rows <= capacity) return;
    const next = Math.max(rows, capacity * 2);
    const data = new Float32Array(next * this.dim);
    data.set(this.data.subarray(0, this.rows * this.dim));
    const alive = new Uint8Array(next);
    alive.set(this.alive.subarray(0, this.rows));
    this.data = data;
    this.alive = alive;
  }

  /** Reject non-finite rows; normalize under the cosine metric. */
  private checkRow(x: Float32Array, r: number, what: string): void {
    for (let j = 0; j < this.dim; j++)
      if (!Number.isFinite(x[r * this.dim + j]))
        throw new UserError(`vector index: ${what} holds a non-finite value`);
    if (this.metric === "cosine" && !normalizeRow(x, r, this.dim))
      throw new UserError(`vector index: ${what} is all zeros and has no direction (metric 'cosine')`);
  }
}

/** After the current turn's I/O callbacks: setImmediate in Node, a zero timeout in a browser. */
const nextTurn: (run: () => void) => void =
  typeof setImmediate === "function" ? (run) => setImmediate(run) : (run) => setTimeout(run, 0);

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 0) throw new UserError(`vector index: k must be an integer ≥ 0, got ${k}`);
}

/** A query waiting for the next batched scan (`searchAsync`). */
interface WaitingQuery {
  query: Float32Array;
  k: number;
  resolve: (hits: SearchHit[]) => void;
  reject: (e: Error) => void;
}

/**
 * The hot path: score every live row against one query and keep the best in `heap`. Rows are visited in
 * order, so a row tying the heap's weakest score never displaces it (the earlier row wins).
 */
function scan(
  q: Float32Array,
  data: Float32Array,
  alive: Uint8Array,
  rows: number,
  dim: number,
  heap: TopK,
): void {
  if (heap.k === 0) return;
  let threshold = heap.threshold;
  // The dot product is written out here rather than called: 8 terms a round into 4 accumulators over a
  // running row offset, with the query its own 0-based array, measured fastest of the variants tried.
  const end8 = dim - (dim % 8);
  let o = 0;
  for (let r = 0; r < rows; r++) {
    if (alive[r] === 0) {
      o += dim;
      continue;
    }
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i < end8; i += 8, o += 8) {
      s0 += (q[i] as number) * (data[o] as number) + (q[i + 4] as number) * (data[o + 4] as number);
      s1 += (q[i + 1] as number) * (data[o + 1] as number) + (q[i + 5] as number) * (data[o + 5] as number);
      s2 += (q[i + 2] as number) * (data[o + 2] as number) + (q[i + 6] as number) * (data[o + 6] as number);
      s3 += (q[i + 3] as number) * (data[o + 3] as number) + (q[i + 7] as number) * (data[o + 7] as number);
    }
    for (; i < dim; i++, o++) s0 += (q[i] as number) * (data[o] as number);
    const s = s0 + s1 + s2 + s3;
    if (s > threshold) {
      heap.push(s, r);
      threshold = heap.threshold;
    }
  }
}

/** One segment as header.json lists it: rows [start, start + rows) of the matrix, in two files. */
interface HeaderSegment {
  start: number;
  rows: number;
  vectors: string;
  items: string;
  vectors_bytes: number;
  items_bytes: number;
}

interface Header {
  dim: number;
  metric: Metric;
  count: number;
  segments: HeaderSegment[];
  /** Rows listed in removed.u32. */
  removed: number;
}

function readHeader(file: string): Header {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new UserError(
      `${file}: cannot read the index header (is this a folder written by VectorIndex.save?)`,
    );
  }
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new UserError(`${file}: not valid JSON; the index header is corrupted`);
  }
  if (h === null || typeof h !== "object" || h.format !== FORMAT)
    throw inputError({ file, field: "format" }, `expected '${FORMAT}'`);
  if (h.version !== 1 && h.version !== 2)
    throw inputError({ file, field: "version" }, `expected 1 or 2, got ${JSON.stringify(h.version)}`);
  const int = (o: Record<string, unknown>, field: string, min: number, where = field): number => {
    const v = o[field];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min)
      throw inputError({ file, field: where }, `expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  if (h.metric !== "cosine" && h.metric !== "dot")
    throw inputError({ file, field: "metric" }, "expected 'cosine' or 'dot'");
  if (h.dtype !== "float32") throw inputError({ file, field: "dtype" }, "expected 'float32'");
  if (h.byte_order !== "little") throw inputError({ file, field: "byte_order" }, "expected 'little'");
  const dim = int(h, "dim", 1);
  // A header must not make the reader allocate before the file sizes are compared (found by fuzzing).
  if (dim > MAX_DIM) throw inputError({ file, field: "dim" }, `expected at most ${MAX_DIM}, got ${dim}`);
  const count = int(h, "count", 0);
  const vectorsBytes = int(h, "vectors_bytes", 0);
  const itemsBytes = int(h, "items_bytes", 0);
  if (h.version === 1)
    return {
      dim,
      metric: h.metric,
      count,
      segments: [
        {
          start: 0,
          rows: count,
          vectors: VECTORS,
          items: ITEMS,
          vectors_bytes: vectorsBytes,
          items_bytes: itemsBytes,
        },
      ],
      removed: 0,
    };
  // Version 2: segments tiling the rows in order, named by their first row; removed rows in removed.u32.
  if (!Array.isArray(h.segments) || h.segments.length === 0)
    throw inputError({ file, field: "segments" }, "expected a non-empty array");
  const segments: HeaderSegment[] = [];
  let start = 0;
  for (const [i, g] of (h.segments as unknown[]).entries()) {
    const where = (f: string) => `segments[${i}].${f}`;
    if (g === null || typeof g !== "object")
      throw inputError({ file, field: `segments[${i}]` }, "expected an object");
    const o = g as Record<string, unknown>;
    const suffix = start === 0 ? "" : `-${start}`;
    for (const [field, name] of [
      ["vectors", `vectors${suffix}.f32`],
      ["items", `items${suffix}.jsonl`],
    ] as const)
      if (o[field] !== name || !SEGMENT_FILE.test(name))
        throw inputError(
          { file, field: where(field) },
          `expected '${name}', got ${JSON.stringify(o[field])}`,
        );
    const rows = int(o, "rows", 0, where("rows"));
    segments.push({
      start,
      rows,
      vectors: o.vectors as string,
      items: o.items as string,
      vectors_bytes: int(o, "vectors_bytes", 0, where("vectors_bytes")),
      items_bytes: int(o, "items_bytes", 0, where("items_bytes")),
    });
    start += rows;
  }
  if (start !== count)
    throw inputError({ file, field: "count" }, `${count}, but the segments hold ${start} rows`);
  const removed = int(h, "removed", 0);
  if (removed > count)
    throw inputError({ file, field: "removed" }, `${removed} rows, more than the ${count} held`);
  return { dim, metric: h.metric, count, segments, removed };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    throw new UserError(`${file}: missing; the index is incomplete`);
  }
}

/** Write to a temporary file beside `file`, flush it to disk, then rename it over `file`. */
function writeAtomic(file: string, bytes: Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
