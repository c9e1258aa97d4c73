/**
 * Near-duplicate grouping: two items are duplicates when their similarity reaches a threshold (cosine 0.94
 * is clip-retrieval's default), and a group is a connected component of that relation, so A~B and B~C put
 * A, B and C together even when A and C fall below it. One member of each group is kept.
 *
 * Pairs come from the index's own neighbour search, queried in batches of rows: each item asks for its k
 * nearest, and an item whose k-th neighbour still reaches the threshold asks again with 2k, so an exact
 * index yields every pair above the threshold (an approximate one, what its search finds). Components are
 * a union-find over those pairs. The same grouping runs on a small in-memory set of vectors
 * (`dedupVectors`), e.g. a page of search results.
 */
import { UserError } from "../util/errors.js";
import type { Json, SearchHit } from "./index.js";
import { dot, normalizeRow, rowCount } from "./kernels.js";

/** clip-retrieval's duplicate threshold (cosine of CLIP image embeddings). */
export const DEFAULT_DEDUP_THRESHOLD = 0.94;

/** What dedup needs from an index: its live items and batched neighbour search. */
export interface NeighbourIndex {
  readonly dim: number;
  readonly size: number;
  /** Live items in index order: ids, their vectors (row-major, as stored) and metadata. */
  entries(): { ids: string[]; vectors: Float32Array; metas: (Json | undefined)[] };
  searchBatchAsync(queries: Float32Array, k: number): Promise<SearchHit[][]>;
}

/** Two items at or above the threshold; `a` comes before `b` in index order. */
export interface DuplicatePair {
  a: number;
  b: number;
  score: number;
}

/** Which member of a group is kept: the first in index order, or the one closest to all the others. */
export type KeepRule = "first" | "central";

export interface DuplicateGroup {
  /** The member kept. */
  keep: string;
  /** Every member, in index order (the kept one included). */
  ids: string[];
  /** Lowest and highest similarity among the pairs that joined the group. */
  minScore: number;
  maxScore: number;
}

export interface DedupResult {
  threshold: number;
  keepRule: KeepRule;
  /** Groups of two or more, largest first (then by first member). */
  groups: DuplicateGroup[];
  /** One id per group and every ungrouped id, in index order. */
  keep: string[];
  /** The grouped ids that are not kept. */
  remove: string[];
  counts: { items: number; groups: number; grouped: number; kept: number; removed: number; pairs: number };
}

export interface DedupOptions {
  /** Similarity at or above which two items are duplicates (default 0.94). */
  threshold?: number;
  keep?: KeepRule;
  /** Query rows per neighbour search (default 256). */
  batch?: number;
  /** Neighbours first asked for per item (default 16; doubled for items with more above the threshold). */
  k?: number;
  /** Called after each batch with rows done and total. */
  onProgress?: (done: number, total: number) => void;
}

/** Group the near-duplicates of an index (see the module comment). */
export async function findDuplicates(index: NeighbourIndex, opts: DedupOptions = {}): Promise<DedupResult> {
  const threshold = checkThreshold(opts.threshold ?? DEFAULT_DEDUP_THRESHOLD);
  const { ids, vectors } = index.entries();
  const pairs = await neighbourPairs(index, ids, vectors, threshold, opts);
  return groupPairs(ids, pairs, threshold, { keep: opts.keep, vectors, dim: index.dim });
}

/**
 * Every pair of the index's items at or above `threshold` that its neighbour search returns, each once.
 * Run it once at the lowest threshold of interest and `groupPairs` at each higher one.
 */
export async function neighbourPairs(
  index: NeighbourIndex,
  ids: readonly string[],
  vectors: Float32Array,
  threshold: number,
  opts: Pick<DedupOptions, "batch" | "k" | "onProgress"> = {},
): Promise<DuplicatePair[]> {
  const dim = index.dim;
  const n = ids.length;
  const batch = positiveInt(opts.batch ?? 256, "batch");
  const k0 = positiveInt(opts.k ?? 16, "k");
  const row = new Map(ids.map((id, i) => [id, i]));
  const pairs: DuplicatePair[] = [];
  const take = (i: number, hits: SearchHit[]) => {
    for (const h of hits) {
      if (h.score < threshold) break;
      const j = row.get(h.id);
      // Each pair is seen from both ends; keep it from its earlier item.
      if (j !== undefined && j > i) pairs.push({ a: i, b: j, score: h.score });
    }
  };
  for (let start = 0; start < n; start += batch) {
    const end = Math.min(n, start + batch);
    // One more than k0: the item itself is among its own hits.
    let k = Math.min(n, k0 + 1);
    let pending = Array.from({ length: end - start }, (_, r) => start + r);
    let queries = vectors.subarray(start * dim, end * dim);
    for (;;) {
      const results = await index.searchBatchAsync(queries, k);
      const again: number[] = [];
      results.forEach((hits, r) => {
        const i = pending[r] as number;
        const last = hits.at(-1);
        if (k < n && hits.length === k && last !== undefined && last.score >= threshold) again.push(i);
        else take(i, hits);
      });
      if (again.length === 0) break;
      k = Math.min(n, 2 * k);
      pending = again;
      queries = new Float32Array(again.length * dim);
      for (const [r, i] of again.entries()) queries.set(vectors.subarray(i * dim, (i + 1) * dim), r * dim);
    }
    opts.onProgress?.(end, n);
  }
  return pairs;
}

/**
 * Near-duplicate groups of a small set of vectors (row-major, `dim` a row) by comparing every pair: cosine
 * similarity unless `metric` is 'dot'. For a page of results or a batch of uploads; use an index beyond a
 * few thousand.
 */
export function dedupVectors(
  ids: readonly string[],
  vectors: Float32Array,
  dim: number,
  opts: { threshold?: number; keep?: KeepRule; metric?: "cosine" | "dot" } = {},
): DedupResult {
  const threshold = checkThreshold(opts.threshold ?? DEFAULT_DEDUP_THRESHOLD);
  const n = rowCount(vectors, dim, "dedup");
  if (n !== ids.length) throw new UserError(`dedup: ${ids.length} ids but ${n} vectors`);
  const x = vectors.slice();
  if ((opts.metric ?? "cosine") === "cosine")
    for (let r = 0; r < n; r++)
      if (!normalizeRow(x, r, dim)) throw new UserError(`dedup: vector ${r} ('${ids[r]}') has no direction`);
  const pairs: DuplicatePair[] = [];
  for (let a = 0; a < n; a++)
    for (let b = a + 1; b < n; b++) {
      const score = dot(x, a * dim, x, b * dim, dim);
      if (score >= threshold) pairs.push({ a, b, score });
    }
  return groupPairs(ids, pairs, threshold, { keep: opts.keep, vectors: x, dim });
}

/**
 * Connected components of the pairs at or above `threshold` (pairs below it are ignored, so one pair list
 * serves several thresholds). The 'central' keep rule needs the (normalized) vectors.
 */
export function groupPairs(
  ids: readonly string[],
  pairs: readonly DuplicatePair[],
  threshold: number,
  opts: { keep?: KeepRule; vectors?: Float32Array; dim?: number } = {},
): DedupResult {
  const keepRule = opts.keep ?? "first";
  if (keepRule !== "first" && keepRule !== "central")
    throw new UserError(`dedup: keep rule must be 'first' or 'central', got '${keepRule}'`);
  const n = ids.length;
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i] as number] as number;
      i = parent[i] as number;
    }
    return i;
  };
  const used = pairs.filter((p) => p.score >= threshold);
  for (const { a, b } of used) {
    const ra = find(a);
    const rb = find(b);
    // The smaller row becomes the root, so a root is its component's first member.
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (r === i) continue;
    let list = members.get(r);
    if (!list) members.set(r, (list = [r]));
    list.push(i);
  }
  const scores = new Map<number, { min: number; max: number }>();
  for (const { a, score } of used) {
    const r = find(a);
    const s = scores.get(r);
    if (!s) scores.set(r, { min: score, max: score });
    else {
      s.min = Math.min(s.min, score);
      s.max = Math.max(s.max, score);
    }
  }
  const kept = new Set<number>();
  const groups: (DuplicateGroup & { first: number })[] = [];
  for (const [root, rows] of members) {
    const keep = keepRule === "central" ? central(rows, opts.vectors, opts.dim) : root;
    kept.add(keep);
    const s = scores.get(root) as { min: number; max: number };
    groups.push({
      first: root,
      keep: ids[keep] as string,
      ids: rows.map((r) => ids[r] as string),
      minScore: s.min,
      maxScore: s.max,
    });
  }
  groups.sort((g, h) => h.ids.length - g.ids.length || g.first - h.first);
  const keep: string[] = [];
  const remove: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = find(i);
    const grouped = r !== i || members.has(i);
    if (!grouped || kept.has(i)) keep.push(ids[i] as string);
    else remove.push(ids[i] as string);
  }
  const grouped = groups.reduce((s, g) => s + g.ids.length, 0);
  return {
    threshold,
    keepRule,
    groups: groups.map(({ first: _, ...g }) => g),
    keep,
    remove,
    counts: {
      items: n,
      groups: groups.length,
      grouped,
      kept: keep.length,
      removed: remove.length,
      pairs: used.length,
    },
  };
}

/** The member with the highest summed similarity to the others (the first on a tie). */
function central(
  rows: readonly number[],
  vectors: Float32Array | undefined,
  dim: number | undefined,
): number {
  if (!vectors || !dim) throw new Error("dedup: the 'central' keep rule needs the vectors");
  let best = rows[0] as number;
  let bestSum = Number.NEGATIVE_INFINITY;
  for (const i of rows) {
    let sum = 0;
    for (const j of rows) if (j !== i) sum += dot(vectors, i * dim, vectors, j * dim, dim);
    if (sum > bestSum) {
      bestSum = sum;
      best = i;
    }
  }
  return best;
}

function checkThreshold(t: number): number {
  if (!Number.isFinite(t)) throw new UserError(`dedup: threshold must be a number, got ${t}`);
  return t;
}

function positiveInt(x: number, what: string): number {
  if (!Number.isInteger(x) || x < 1) throw new UserError(`dedup: ${what} must be an integer ≥ 1, got ${x}`);
  return x;
}

/** The groups as CSV: `group,id,keep,meta text` (one row per grouped item). */
export function dedupCsv(result: DedupResult, text?: (id: string) => string | undefined): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const lines = ["group,id,keep,text"];
  result.groups.forEach((g, gi) => {
    for (const id of g.ids)
      lines.push([String(gi + 1), q(id), id === g.keep ? "1" : "0", q(text?.(id) ?? "")].join(","));
  });
  return `${lines.join("\n")}\n`;
}
