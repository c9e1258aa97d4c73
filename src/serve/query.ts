/**
 * A search request of `juxta serve` as one query vector: the weighted sum of the normalized embeddings of
 * its parts (text, image, an indexed item's vector) minus a weighted negative text, then ranked against
 * the index and paged with offset and k. Two toggles filter the ranked list before it is paged: `safe`
 * hides the hits a moderation policy would not allow, and `dedup` groups near-duplicates as `juxta dedup`
 * does (the same code: cosine ≥ a threshold, 0.94 as clip-retrieval, connected components) and keeps the
 * best-ranked member of each group.
 */
import { dedupVectors } from "../search/dedup.js";
import type { Json } from "../search/index.js";
import type { IndexStore } from "../search/store.js";
import { HttpError } from "./http-error.js";

export interface Query {
  text?: string;
  negative?: string;
  image?: Uint8Array;
  /** More like this indexed item. */
  id?: string;
  weights: { text?: number; image?: number; id?: number; negative?: number };
  k: number;
  offset: number;
  /** Group near-duplicates at this cosine and keep the best-ranked of each group. */
  dedup?: number;
  /** Hide the hits the server's moderation policy would flag, review or block. */
  safe?: boolean;
}

export interface Hit {
  id: string;
  score: number;
  meta?: Json;
  image_url: string;
}

export interface QueryDeps {
  store: IndexStore;
  embedTexts: (texts: string[]) => Promise<Float32Array>;
  embedImage?: () => Promise<Float32Array>;
  imageUrl: (id: string) => string;
  /** The ids among these items (vectors row-major) that safe mode hides; needed for `safe`. */
  unsafe?: (ids: string[], vectors: Float32Array) => Set<string>;
}

export async function searchQuery(
  q: Query,
  deps: QueryDeps,
): Promise<{ hits: Hit[]; k: number; offset: number; more: boolean }> {
  const dim = deps.store.dim;
  const texts = [q.text, q.negative].filter((t): t is string => t !== undefined);
  const [textVecs, imageVec, item] = await Promise.all([
    texts.length > 0 ? deps.embedTexts(texts) : undefined,
    deps.embedImage?.(),
    q.id !== undefined ? deps.store.items([q.id]).then((r) => r[0]) : undefined,
  ]);
  if (q.id !== undefined && !item) throw new HttpError(404, `no item '${q.id}' in the index`);
  const query = new Float32Array(dim);
  const addPart = (v: Float32Array | undefined, w: number) => {
    if (!v || w === 0) return;
    let n = 0;
    for (let j = 0; j < dim; j++) n += (v[j] as number) ** 2;
    const s = w / Math.sqrt(n || 1);
    for (let j = 0; j < dim; j++) query[j] = (query[j] as number) + s * (v[j] as number);
  };
  let t = 0;
  if (q.text !== undefined) addPart(textVecs?.subarray(dim * t++, dim * t), q.weights.text ?? 1);
  if (q.negative !== undefined) addPart(textVecs?.subarray(dim * t++, dim * t), -(q.weights.negative ?? 1));
  addPart(imageVec, q.weights.image ?? 1);
  addPart(item?.vector, q.weights.id ?? 1);
  if (!query.some((x) => x !== 0)) throw new HttpError(400, "the weighted query is zero: check 'weights'");

  const want = q.offset + q.k + 1;
  let fetch = want + (q.id !== undefined ? 1 : 0);
  for (;;) {
    const size = await deps.store.size();
    const found = (await deps.store.searchAsync(query, Math.min(fetch, size))).filter((h) => h.id !== q.id);
    const ranked = await filterHits(found, q, deps);
    const exhausted = fetch >= size;
    if (ranked.length >= want || exhausted) {
      const page = ranked.slice(q.offset, q.offset + q.k);
      return {
        hits: page.map((h) => ({
          id: h.id,
          score: h.score,
          ...(h.meta !== undefined ? { meta: h.meta } : {}),
          image_url: deps.imageUrl(h.id),
        })),
        k: q.k,
        offset: q.offset,
        more: ranked.length > q.offset + q.k,
      };
    }
    fetch *= 2;
  }
}

/** The hits the toggles keep, in rank order: unsafe ones hidden, then one of each near-duplicate group. */
async function filterHits<H extends { id: string }>(hits: H[], q: Query, deps: QueryDeps): Promise<H[]> {
  if (!q.safe && q.dedup === undefined) return hits;
  const dim = deps.store.dim;
  const items = await deps.store.items(hits.map((h) => h.id));
  let kept = hits.filter((_, i) => items[i] !== undefined);
  const vectors = () => {
    const v = new Float32Array(kept.length * dim);
    const row = new Map(items.map((it, i) => [hits[i]?.id, it]));
    for (const [r, h] of kept.entries()) v.set((row.get(h.id) as { vector: Float32Array }).vector, r * dim);
    return v;
  };
  if (q.safe) {
    if (!deps.unsafe)
      throw new HttpError(400, "field 'safe': this server has no moderation policy configured");
    const hidden = deps.unsafe(
      kept.map((h) => h.id),
      vectors(),
    );
    kept = kept.filter((h) => !hidden.has(h.id));
  }
  if (q.dedup !== undefined) {
    // Keep rule 'first': the list is in rank order, so each group keeps its best-ranked member.
    const groups = dedupVectors(
      kept.map((h) => h.id),
      vectors(),
      dim,
      { threshold: q.dedup, keep: "first" },
    );
    const keep = new Set(groups.keep);
    kept = kept.filter((h) => keep.has(h.id));
  }
  return kept;
}
