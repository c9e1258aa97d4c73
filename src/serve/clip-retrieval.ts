/**
 * clip-retrieval's back-end routes (`clip back`), with its request and response shapes, so tools written
 * for it work against `juxta serve`: GET /indices-list, POST /knn-service, POST /metadata. Ids are this
 * index's ids (strings), which clients pass back to /metadata as they are.
 */
import { DEFAULT_DEDUP_THRESHOLD } from "../search/dedup.js";
import type { Json } from "../search/index.js";
import { HttpError } from "./http-error.js";
import type { Query } from "./query.js";

/** The knn-service body as clip-retrieval's front end sends it (fields Juxta has no use for are ignored). */
export interface KnnRequest {
  text?: string;
  image?: string;
  image_url?: string;
  embedding_input?: number[];
  modality?: string;
  indice_name?: string;
  num_images?: number;
  num_result_ids?: number;
  deduplicate?: boolean;
  use_safety_model?: boolean;
}

/** A knn-service request as a Juxta query (text and image together are averaged, as clip back does). */
export function knnQuery(body: unknown, indexName: string, maxK: number, hasPolicy = false): Query {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new HttpError(400, "expected a JSON object {text?, image?, num_images, …}");
  const b = body as KnnRequest;
  if (b.indice_name !== undefined && b.indice_name !== indexName)
    throw new HttpError(404, `no index '${b.indice_name}' (this server has '${indexName}')`);
  if (b.image_url !== undefined || b.embedding_input !== undefined)
    throw new HttpError(400, "image_url and embedding_input are not supported: send text or a base64 image");
  if (b.text !== undefined && typeof b.text !== "string")
    throw new HttpError(400, "field 'text': expected a string");
  if (b.image !== undefined && typeof b.image !== "string")
    throw new HttpError(400, "field 'image': expected a base64 string");
  const n = b.num_images ?? b.num_result_ids ?? 40;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1)
    throw new HttpError(400, "field 'num_images': expected an integer ≥ 1");
  const text = b.text?.trim() ? b.text : undefined;
  const image = b.image ? Buffer.from(b.image.replace(/^data:[^;,]*;base64,/, ""), "base64") : undefined;
  if (!text && !image) throw new HttpError(400, "nothing to search for: give 'text' or 'image'");
  return {
    text,
    image,
    weights: {},
    k: Math.min(n, maxK),
    offset: 0,
    dedup: b.deduplicate === false ? undefined : DEFAULT_DEDUP_THRESHOLD,
    // clip back's safety model is an NSFW head; here it is the server's policy, when it has one.
    safe: b.use_safety_model === true && hasPolicy,
  };
}

/** clip back's result rows: {id, similarity, url, caption?}. */
export function knnResults(
  hits: { id: string; score: number; meta?: Json; image_url: string }[],
  origin: string,
): Record<string, Json>[] {
  return hits.map((h) => {
    const row: Record<string, Json> = { id: h.id, similarity: h.score, url: `${origin}${h.image_url}` };
    const caption = (h.meta as { text?: unknown } | undefined)?.text;
    if (typeof caption === "string") row.caption = caption;
    return row;
  });
}

/** The ids of a /metadata request. */
export function metadataIds(body: unknown, indexName: string): string[] {
  const b = body as { ids?: unknown; indice_name?: unknown } | null;
  if (b === null || typeof b !== "object" || !Array.isArray(b.ids))
    throw new HttpError(400, "expected {ids: [...], indice_name?}");
  if (b.indice_name !== undefined && b.indice_name !== indexName)
    throw new HttpError(404, `no index '${String(b.indice_name)}' (this server has '${indexName}')`);
  if (b.ids.length > 1000) throw new HttpError(413, `${b.ids.length} ids; the limit is 1000`);
  return b.ids.map((id) => String(id));
}
