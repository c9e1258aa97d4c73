/**
 * Searchable image collections, for every model family: a VectorIndex folder (exact cosine search) of
 * image embeddings keyed by image id (absolute path), plus `model.json` naming the model folder (and
 * tokenizer) that made them and a fingerprint of its weights, so a search reopens the same model and an
 * update cannot mix embeddings of two models (nor of a model retrained in place). An exact index is
 * updated as generations (src/search/generations.ts): a kill at any moment leaves the old or the new one. Models with a text tower are searched by text or by image; image-only encoders (SimCLR, MoCo, …)
 * by image.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { listImages } from "../data/image-set.js";
import type { DatasetOptions } from "../data/options.js";
import type { SkipLog } from "../data/types.js";
import type { WeightFormat } from "../engine/index.js";
import { sameWeights, type WeightsFingerprint, weightsFingerprint } from "../handle/fingerprint.js";
import type { ModelHandle } from "../handle/model.js";
import { openModel } from "../handle/open.js";
import { currentFiles, lockIndex } from "../search/generations.js";
import type { HnswStatus } from "../search/hnsw.js";
import type { Json, SearchHit } from "../search/index.js";
import {
  createIndexStore,
  INDEX_BACKENDS,
  type IndexBackend,
  type IndexStore,
  isIndexDir,
  openIndexStore,
} from "../search/store.js";
import { inputError, OptionError, UserError } from "../util/errors.js";
import { Progress, type ProgressStream } from "../util/progress.js";

export const INDEX_MODEL_FILE = "model.json";
const FORMAT = "juxta-image-index";

/** What `model.json` records. */
export interface IndexModel {
  /** Absolute path of the model folder. */
  model: string;
  /** Absolute path of a tokenizer used instead of the model's own, if one was given. */
  tokenizer?: string;
  dim: number;
  /** The weights that made the embeddings (absent in indexes written before fingerprints). */
  weights?: WeightsFingerprint;
}

export interface IndexUpdateOptions {
  /** The index folder. */
  out: string;
  /** Model folder; required for a new index, and must be the index's own when updating. */
  model?: string;
  tokenizer?: string;
  /** Precision the model embeds at (default fp32). */
  dtype?: WeightFormat;
  /** Images to add (a folder, image, .txt list or data set). */
  images?: string;
  /** Storage of a new index: exact (in memory, the default) or lance (LanceDB on disk). */
  backend?: IndexBackend;
  /** Update the existing index at `out` instead of creating one. */
  add?: boolean;
  /**
   * Build (or rebuild) the approximate HNSW index (usearch) over the index after the update, measure its
   * recall@10 against the exact scan, and save it with the index (exact backend).
   */
  approximate?: boolean;
  /** Image ids or paths to remove from the existing index. */
  remove?: readonly string[];
  dataset?: DatasetOptions;
  log?: SkipLog;
  progress?: ProgressStream;
}

export interface IndexUpdate {
  added: number;
  /** Images already in the index, left as they were. */
  skipped: number;
  removed: number;
  /** Paths given to remove that the index does not hold. */
  notFound: string[];
  /** Images in the index after the update. */
  size: number;
  /** The approximate index, when the index has one (or `approximate` built it). */
  approximate?: HnswStatus;
}

/** Create an index of images, or add to / remove from an existing one, and save it. */
export async function updateImageIndex(opts: IndexUpdateOptions): Promise<IndexUpdate> {
  const exists = isIndexDir(opts.out);
  const updating = opts.add === true || (opts.remove?.length ?? 0) > 0;
  if (exists && !updating)
    throw new OptionError(
      `${opts.out}: an index is already there; use {add} to update it, or pick another {out}`,
    );
  if (!exists && updating)
    throw new OptionError(`${opts.out}: no index to update (build one without {add} first)`);
  if (!updating && opts.images === undefined) throw new OptionError("{images} is required to build an index");
  if (opts.approximate && opts.backend === "lance")
    throw new OptionError("{approximate} builds an HNSW graph for the exact backend, not for lance");
  if (opts.backend !== undefined && !(INDEX_BACKENDS as readonly string[]).includes(opts.backend))
    throw new OptionError(`{backend}: expected ${INDEX_BACKENDS.join(" or ")}, got '${opts.backend}'`);
  if (exists && opts.backend !== undefined)
    throw new UserError(`${opts.out}: the backend is chosen when the index is built; it cannot change`);

  let info: IndexModel | undefined = exists ? readIndexModel(opts.out) : undefined;
  if (info && opts.model !== undefined && resolve(opts.model) !== info.model)
    throw new UserError(
      `${opts.out} holds embeddings made by ${info.model}, not ${resolve(opts.model)}; one index cannot mix two models`,
    );
  const modelDir = info?.model ?? opts.model;
  if (modelDir === undefined) throw new OptionError("{model} is required to build an index");
  const tokenizer = opts.tokenizer !== undefined ? resolve(opts.tokenizer) : info?.tokenizer;

  // One writer at a time: two would each build on the same state and the later would drop the other's.
  const lock = lockIndex(opts.out);
  let target: IndexStore | undefined;
  try {
    const index = exists ? await openIndexStore(opts.out) : undefined;
    target = index;
    const result: IndexUpdate = { added: 0, skipped: 0, removed: 0, notFound: [], size: 0 };
    for (const path of opts.remove ?? []) {
      // Ids of files are absolute paths; other ids (records in shards) are matched as given.
      const ids = [...new Set([path, resolve(path)])];
      if ((await index!.remove(ids)) > 0) result.removed++;
      else result.notFound.push(path);
    }
    if (opts.images !== undefined) {
      const items = await listImages(opts.images, { dataset: opts.dataset, log: opts.log });
      const known = index ? await index.existing(items.map((im) => im.id)) : new Set<string>();
      const fresh = items.filter((im) => !known.has(im.id));
      result.skipped = items.length - fresh.length;
      if (fresh.length > 0) {
        const embedder = await openIndexModel(modelDir, tokenizer, opts.out, opts.progress, opts.dtype);
        try {
          if (info && info.dim !== embedder.dim)
            throw new UserError(
              `${opts.out}: index is ${info.dim}-d but ${modelDir} embeds to ${embedder.dim}-d`,
            );
          if (info) checkIndexWeights(opts.out, info, embedder.dir);
          // An unreadable image is skipped and counted (fatal under --strict), never the end of the update.
          const r = await embedder.embedImagesSkipping(fresh.map((im) => im.ref));
          for (const s of r.skipped) {
            if (!opts.log) throw new UserError(`cannot index ${fresh[s.index]!.id}: ${s.reason}`);
            opts.log.add({ file: fresh[s.index]!.id }, s.reason);
          }
          const added = r.kept.map((i) => fresh[i]!);
          target ??= await createIndexStore(opts.out, embedder.dim, opts.backend);
          await target.add(
            added.map((im) => im.id),
            r.embeds,
            added.map(metaOf),
          );
          result.added = added.length;
          info ??= { model: resolve(modelDir), ...(tokenizer ? { tokenizer } : {}), dim: embedder.dim };
          if (!info.weights && embedder.dir) info.weights = weightsFingerprint(embedder.dir);
        } finally {
          await embedder.dispose();
        }
      }
    }
    if (!target || !info) throw new Error("index update with neither an index nor images");
    if (opts.approximate) {
      const bar = opts.progress
        ? new Progress({
            label: "approximate index",
            total: await target.size(),
            stream: opts.progress,
            unit: "vectors",
          })
        : undefined;
      let shown = 0;
      await target.buildApproximate({
        onProgress: (done) => {
          bar?.tick(done - shown);
          shown = done;
        },
      });
      bar?.done();
    }
    await target.commit({ [INDEX_MODEL_FILE]: indexModelJson(info) });
    result.size = await target.size();
    const ann = target.approximate();
    if (ann.state !== "none") result.approximate = ann;
    return result;
  } finally {
    target?.close();
    lock.release();
  }
}

/** A query: text, or an image file. */
export type IndexQuery = { text: string } | { image: string };

export interface IndexSearchOptions {
  /** Another copy of the index's model folder, or tokenizer, to embed the query with. */
  model?: string;
  tokenizer?: string;
  /** Precision the model embeds at (default fp32). */
  dtype?: WeightFormat;
  /** An open handle of the index's model (kept open: a service searches many times with one). */
  handle?: ModelHandle;
}

/** The k images closest to the query, best first, embedded by the index's own model (or `model`). */
export async function searchImageIndex(
  dir: string,
  query: IndexQuery,
  k: number,
  opts: IndexSearchOptions = {},
): Promise<SearchHit[]> {
  const info = readIndexModel(dir);
  const index = await openIndexStore(dir);
  const embedder =
    opts.handle ??
    (await openIndexModel(
      opts.model ?? info.model,
      opts.tokenizer ?? info.tokenizer,
      dir,
      undefined,
      opts.dtype,
    ));
  try {
    if (embedder.dim !== index.dim)
      throw new UserError(`${dir}: index is ${index.dim}-d but the model embeds to ${embedder.dim}-d`);
    checkIndexWeights(dir, info, embedder.dir);
    if ("text" in query && !embedder.hasText)
      throw embedder.noTextTower(`it cannot embed the text query; search ${dir} by image`);
    const q =
      "text" in query
        ? await embedder.embedTexts([query.text])
        : await embedder.embedImages([resolve(query.image)]);
    return await index.searchAsync(q, k);
  } finally {
    index.close();
    if (embedder !== opts.handle) await embedder.dispose();
  }
}

/** The content of `model.json`. */
export function indexModelJson(info: IndexModel): Record<string, unknown> {
  return { format: FORMAT, version: 1, ...info };
}

/**
 * Refuse a model whose weights are not the ones that embedded the index (a model retrained or replaced
 * at the same path, or another model's copy); indexes from before fingerprints are not checked.
 */
export function checkIndexWeights(dir: string, info: IndexModel, modelDir: string | undefined): void {
  if (!info.weights || !modelDir) return;
  if (!sameWeights(modelDir, info.weights))
    throw new OptionError(
      `${dir}: its images were embedded by other weights than ${modelDir}'s now (sha256 ` +
        `${info.weights.sha256.slice(0, 12)}…); the model was retrained or replaced: rebuild the index, ` +
        "or pass {model} with the model that built it",
    );
}

/** Read an index folder's `model.json` (of its current generation). */
export function readIndexModel(dir: string): IndexModel {
  if (!isIndexDir(dir))
    throw new UserError(
      `${dir}: not an index (no header.json or lance-index.json); build one with juxta index`,
    );
  const file = join(currentFiles(dir), INDEX_MODEL_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new UserError(`${file}: missing or not valid JSON; this index was not written by juxta index`);
  }
  const m = raw as Partial<IndexModel> & { format?: unknown };
  if (m === null || typeof m !== "object" || m.format !== FORMAT)
    throw inputError({ file, field: "format" }, `expected '${FORMAT}'`);
  if (typeof m.model !== "string")
    throw inputError({ file, field: "model" }, "expected the model folder's path");
  if (m.tokenizer !== undefined && typeof m.tokenizer !== "string")
    throw inputError({ file, field: "tokenizer" }, "expected a path");
  if (typeof m.dim !== "number") throw inputError({ file, field: "dim" }, "expected the embedding size");
  const w = m.weights;
  if (
    w !== undefined &&
    (w === null ||
      typeof w.sha256 !== "string" ||
      typeof w.size !== "number" ||
      typeof w.mtimeMs !== "number")
  )
    throw inputError({ file, field: "weights" }, "expected {sha256, size, mtimeMs}");
  return {
    model: m.model,
    ...(m.tokenizer ? { tokenizer: m.tokenizer } : {}),
    dim: m.dim,
    ...(w ? { weights: w } : {}),
  };
}

async function openIndexModel(
  model: string,
  tokenizer: string | undefined,
  index: string,
  progress?: ProgressStream,
  dtype?: WeightFormat,
): Promise<ModelHandle> {
  try {
    return await openModel(model, { tokenizer, progress, dtype });
  } catch (e) {
    if (e instanceof UserError && !existsSync(model))
      throw new UserError(
        `${e.message} (the index ${index} was built with it; pass --model to use another copy)`,
      );
    throw e;
  }
}

function metaOf(im: { text?: string; label?: string }): Json | undefined {
  if (im.text === undefined && im.label === undefined) return undefined;
  const meta: { [key: string]: Json } = {};
  if (im.text !== undefined) meta.text = im.text;
  if (im.label !== undefined) meta.label = im.label;
  return meta;
}
