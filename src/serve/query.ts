/**
 * A search request of `juxta serve` as one query vector: the weighted sum of the normalized embeddings of
 * its parts (text, image, an indexed item's vector) minus a weighted negative text, then ranked against
 * the index, optionally with near-duplicates dropped (cosine ≥ a threshold, 0.94 as clip-retrieval), and
 * paged with offset and k.
 */
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
  /** Drop a hit whose cosine with a better one is at least this. */
  dedup?: number;
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
    const ranked = q.dedup !== undefined ? await dropDuplicates(found, q.dedup, deps.store) : found;
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

/** Keep hits in rank order, dropping each whose vector is within `threshold` cosine of one kept. */
async function dropDuplicates<H extends { id: string }>(hits: H[], threshold: number, store: IndexStore) {
  const items = await store.items(hits.map((h) => h.id));
  const kept: H[] = [];
  const keptVecs: Float32Array[] = [];
  hits.forEach((h, i) => {
    const v = items[i]?.vector;
    if (!v) return;
    const unit = normalized(v);
    for (const u of keptVecs) {
      let dot = 0;
      for (let j = 0; j < u.length; j++) dot += (u[j] as number) * (unit[j] as number);
      if (dot >= threshold) return;
    }
    kept.push(h);
    keptVecs.push(unit);
  });
  return kept;
}

function normalized(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const s = 1 / Math.sqrt(n || 1);
  return v.map((x) => x * s);
}
