/**
 * `juxta serve`: an image index and its model as an HTTP service (fastify). The model is opened once in
 * an inference worker thread (inference.ts); the index stays in memory on the main thread, and writes go
 * through the same crash-safe generations as `juxta index --add` (src/search/generations.ts), each
 * acknowledged only once it is on disk. The server holds the index folder's writer lock for its life.
 *
 * Routes (docs/serve.md): POST /search, GET /items/:id, POST /items, DELETE /items/:id, GET /images/:id,
 * GET /health, GET /metrics, and clip-retrieval's GET /indices-list, POST /knn-service, POST /metadata.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import multipart from "@fastify/multipart";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import sharp, { type Metadata } from "sharp";
import {
  checkIndexWeights,
  INDEX_MODEL_FILE,
  type IndexModel,
  indexModelJson,
  readIndexModel,
} from "../apps/image-index.js";
import type { WeightFormat } from "../engine/index.js";
import type { ImageInput } from "../handle/inputs.js";
import { resolveSource } from "../handle/open.js";
import { type EmbeddingModel, Moderator } from "../moderate/moderate.js";
import { type LoadedPolicy, loadPolicy, type Policy } from "../moderate/policy.js";
import { DEFAULT_DEDUP_THRESHOLD } from "../search/dedup.js";
import { type IndexLock, lockIndex } from "../search/generations.js";
import { openUsearch } from "../search/hnsw.js";
import type { Json } from "../search/index.js";
import { type IndexStore, openIndexStore } from "../search/store.js";
import { UserError } from "../util/errors.js";
import { knnQuery, knnResults, metadataIds } from "./clip-retrieval.js";
import { HttpError } from "./http-error.js";
import { Inference } from "./inference.js";
import { type ServeMetrics, serveMetrics } from "./metrics.js";
import { page } from "./page.js";
import { type Query, searchQuery } from "./query.js";

export interface ServeOptions {
  /** The index folder (juxta index). */
  index: string;
  /** Another copy of the index's model (default: the model the index records). */
  model?: string;
  tokenizer?: string;
  /**
   * Precision of the query embeddings (default fp32). The stored vectors stay as the index has them: a q8
   * query against fp32 vectors drifts as little as docs/quantization.md measures for q8 against fp32.
   */
  dtype?: WeightFormat;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Bearer token the write routes require; without one they are open on loopback and off elsewhere. */
  token?: string;
  /** Folder under which POST /items may name server-side image paths (none: uploads only). */
  root?: string;
  limits?: Partial<ServeLimits>;
  /**
   * A moderation policy (a JSON file, or one already loaded) for safe mode: a search with `safe` hides
   * the hits the policy would not allow (flag, review or block), judged on their stored image embeddings.
   */
  policy?: string | Policy | LoadedPolicy;
  /**
   * Keep an approximate (HNSW) index: build one in the background when the index has none, and rebuild
   * it once the items added since exceed a tenth of it; searches are exact until it is ready, and each
   * build is committed as a generation. An index that already has one uses it either way.
   */
  approximate?: boolean;
  /** Batch waiting text queries into one inference run (default true). */
  batchTexts?: boolean;
  /** Log requests (fastify's logger) to stdout. */
  log?: boolean;
}

export interface ServeLimits {
  /** Request body bytes (JSON or multipart), above which 413. */
  bodyBytes: number;
  /** Pixels (width × height) of an image, above which 413. */
  imagePixels: number;
  /** Characters of a query text, above which 400. */
  queryChars: number;
  /** Largest k, and largest offset + k. */
  k: number;
  window: number;
  /** Embedding jobs waiting, beyond which requests are refused with 429. */
  queue: number;
  /** Milliseconds for a whole request (a slow client is cut off with 408). */
  requestMs: number;
  /** Images one POST /items may add. */
  batchImages: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  bodyBytes: 16 << 20,
  imagePixels: 40_000_000,
  queryChars: 1000,
  k: 500,
  window: 10_000,
  queue: 256,
  requestMs: 30_000,
  batchImages: 64,
};

const UPLOADS = "uploads";
const UPLOAD_NAME = /^[0-9a-f]{64}\.(png|jpg|jpeg|webp|gif|avif|tiff|bmp)$/;

export interface SearchServer {
  app: FastifyInstance;
  /** http://host:port once listening. */
  url: string;
  /** Drain in-flight requests, finish pending writes, stop the worker and release the index. */
  close(): Promise<void>;
}

export { HttpError };

export async function startServer(opts: ServeOptions): Promise<SearchServer> {
  const dir = resolve(opts.index);
  const info = readIndexModel(dir);
  const host = opts.host ?? "127.0.0.1";
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const loopback = host === "127.0.0.1" || host === "::1" || host === "localhost";
  const writable = opts.token !== undefined || loopback;
  // Without usearch an approximate index cannot be built: say so now, not at every write.
  if (opts.approximate) await openUsearch();
  const lock = lockIndex(dir, "juxta serve");
  let store: IndexStore | undefined;
  let inference: Inference | undefined;
  try {
    store = await openIndexStore(dir);
    const modelDir = await resolveSource(opts.model ?? info.model);
    checkIndexWeights(dir, info, modelDir);
    inference = await Inference.start({
      model: modelDir,
      tokenizer: opts.tokenizer ?? info.tokenizer,
      dtype: opts.dtype,
      batchTexts: opts.batchTexts,
    });
    if (inference.dim !== store.dim)
      throw new UserError(`${dir}: index is ${store.dim}-d but ${modelDir} embeds to ${inference.dim}-d`);
    const moderator =
      opts.policy !== undefined
        ? await Moderator.create(
            workerModel(inference, modelDir),
            typeof opts.policy === "string" ? loadPolicy(opts.policy) : opts.policy,
          )
        : undefined;
    const service = new Service(dir, info, store, inference, lock, limits, opts, writable, moderator);
    return await service.listen(host, opts.port ?? 8080);
  } catch (e) {
    await inference?.close();
    store?.close();
    lock.release();
    throw e;
  }
}

class Service {
  readonly app: FastifyInstance;
  private readonly metrics: ServeMetrics;
  private draining = false;
  /** Writes run one after another; each commits a generation before it is acknowledged. */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly root?: string;

  constructor(
    private readonly dir: string,
    private readonly info: IndexModel,
    private readonly store: IndexStore,
    private readonly inference: Inference,
    private readonly lock: IndexLock,
    private readonly limits: ServeLimits,
    private readonly opts: ServeOptions,
    private readonly writable: boolean,
    private readonly moderator?: Moderator,
  ) {
    this.root = opts.root !== undefined ? realpathSync(resolve(opts.root)) : undefined;
    this.metrics = serveMetrics({
      queue: () => inference.depth,
      items: () => store.size(),
      approximate: () => store.approximate(),
    });
    this.app = Fastify({
      logger: opts.log ?? false,
      bodyLimit: limits.bodyBytes,
      requestTimeout: limits.requestMs,
      connectionTimeout: limits.requestMs,
      keepAliveTimeout: 5000,
      return503OnClosing: true,
    });
    this.routes();
  }

  async listen(host: string, port: number): Promise<SearchServer> {
    const url = await this.app.listen({ host, port });
    this.maybeBuildApproximate();
    return { app: this.app, url, close: () => this.close() };
  }

  private async close(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    await this.app.close();
    await this.writes.catch(() => undefined);
    await this.inference.close();
    this.store.close();
    this.lock.release();
  }

  private routes(): void {
    const app = this.app;
    app.register(multipart, {
      limits: { fileSize: this.limits.bodyBytes, files: this.limits.batchImages, fields: 32 },
    });
    app.addHook("onRequest", async (req) => {
      (req as { started?: bigint }).started = process.hrtime.bigint();
      if (this.draining) throw new HttpError(503, "the server is shutting down");
    });
    app.addHook("onResponse", async (req, reply) => {
      const route = req.routeOptions.url ?? "unmatched";
      const started = (req as { started?: bigint }).started ?? process.hrtime.bigint();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
      this.metrics.latency.observe({ route, method: req.method }, seconds);
    });
    app.setErrorHandler((e: Error & { statusCode?: number; code?: string }, _req, reply) => {
      const status =
        e instanceof HttpError
          ? e.status
          : e instanceof UserError
            ? 400
            : e.code === "FST_REQ_FILE_TOO_LARGE" || e.code === "FST_FILES_LIMIT"
              ? 413
              : (e.statusCode ?? 500);
      const message = status >= 500 && !(e instanceof HttpError) ? "internal error" : e.message;
      if (status >= 500 && !(e instanceof HttpError)) this.app.log.error(e);
      reply.code(status).send({ error: message, status });
    });
    app.setNotFoundHandler((req, reply) => {
      reply.code(404).send({ error: `no route ${req.method} ${req.url}`, status: 404 });
    });

    const html = page({ safe: this.moderator !== undefined });
    app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").send(html));
    app.get("/health", async () => ({
      status: "ok",
      items: await this.store.size(),
      dim: this.store.dim,
      model: this.info.model,
      text: this.inference.hasText,
      queue: this.inference.depth,
      writable: this.writable,
      policy: this.moderator ? { name: this.moderator.policy.name, hash: this.moderator.hash } : null,
      approximate: this.store.approximate(),
    }));
    app.get("/metrics", async (_req, reply) => {
      reply.type(this.metrics.registry.contentType);
      return this.metrics.registry.metrics();
    });
    app.post("/search", async (req) => this.search(await this.queryOf(req)));
    // clip-retrieval's back end (clip-retrieval.ts).
    const name = basename(this.dir);
    app.get("/indices-list", async () => [name]);
    app.post("/knn-service", async (req) => {
      const q = knnQuery(req.body, name, this.limits.k, this.moderator !== undefined);
      const { hits } = await this.search(q);
      return knnResults(hits, `${req.protocol}://${req.host}`);
    });
    app.post("/metadata", async (req) => {
      const ids = metadataIds(req.body, name);
      const items = await this.store.items(ids);
      return ids.map((id, i) => {
        const item = items[i];
        const meta = (item?.meta ?? {}) as Record<string, Json>;
        const caption = typeof meta.text === "string" ? { caption: meta.text } : {};
        return { id, metadata: item ? { ...meta, ...caption, url: imageUrl(id) } : {} };
      });
    });
    app.get("/items/:id", async (req) => {
      const id = (req.params as { id: string }).id;
      const [item] = await this.store.items([id]);
      if (!item) throw new HttpError(404, `no item '${id}' in the index`);
      return { id, ...(item.meta !== undefined ? { meta: item.meta } : {}), image_url: imageUrl(id) };
    });
    app.get("/images/:id", async (req, reply) => this.image((req.params as { id: string }).id, reply));
    app.post("/items", async (req) => {
      this.checkWrite(req);
      const adds = await this.additionsOf(req);
      return this.write(() => this.add(adds));
    });
    app.delete("/items/:id", async (req) => {
      this.checkWrite(req);
      const id = (req.params as { id: string }).id;
      return this.write(async () => {
        const removed = await this.store.remove([id]);
        if (removed === 0) throw new HttpError(404, `no item '${id}' in the index`);
        await this.commit();
        return { removed: 1, size: await this.store.size() };
      });
    });
  }

  /** Parse a search request: JSON, or multipart with an `image` file and the other fields as text. */
  private async queryOf(req: FastifyRequest): Promise<Query> {
    if (req.isMultipart()) {
      const fields: Record<string, unknown> = {};
      await eachPart(req, async (part) => {
        if (part.type === "file") {
          if (part.fieldname !== "image")
            throw new HttpError(400, `unexpected file field '${part.fieldname}'`);
          fields.image = await part.toBuffer();
        } else fields[part.fieldname] = fieldValue(part.fieldname, String(part.value));
      });
      return parseQuery(fields, this.limits, this.moderator !== undefined);
    }
    return parseQuery(req.body, this.limits, this.moderator !== undefined);
  }

  private async search(q: Query) {
    this.checkQueue();
    if ((q.text !== undefined || q.negative !== undefined) && !this.inference.hasText)
      throw new HttpError(400, "this index's model has no text tower: search it by image or id");
    const image = q.image ? await this.checkImage(q.image) : undefined;
    return searchQuery(q, {
      store: this.store,
      embedTexts: (t) => this.inference.embedTexts(t),
      embedImage: image ? () => this.inference.embedImages([image]) : undefined,
      imageUrl,
      unsafe: this.moderator ? (ids, vectors) => this.unsafe(ids, vectors) : undefined,
    });
  }

  /** The ids the policy would not allow, judged on their stored embeddings (captions are not checked). */
  private unsafe(ids: string[], vectors: Float32Array): Set<string> {
    const results = (this.moderator as Moderator).moderateEmbeddings(ids, vectors);
    const hidden = new Set(results.filter((r) => r.decision !== "allow").map((r) => r.id));
    this.metrics.safeHidden.inc(hidden.size);
    return hidden;
  }

  /** An upload's bytes, if they are an image within the pixel limit. */
  private async checkImage(bytes: Uint8Array): Promise<Uint8Array> {
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch {
      throw new HttpError(
        400,
        "the upload is not an image sharp can read (PNG, JPEG, WebP, GIF, AVIF, TIFF)",
      );
    }
    const pixels = (meta.width ?? 0) * (meta.height ?? 0);
    if (pixels > this.limits.imagePixels)
      throw new HttpError(
        413,
        `image of ${meta.width}x${meta.height} pixels is over the limit of ${this.limits.imagePixels}`,
      );
    return bytes;
  }

  private checkQueue(): void {
    if (this.inference.depth >= this.limits.queue)
      throw new HttpError(429, `busy: ${this.inference.depth} embedding jobs waiting; retry shortly`);
  }

  private checkWrite(req: FastifyRequest): void {
    if (!this.writable)
      throw new HttpError(
        403,
        "writes are off: the server listens beyond loopback without a token (start it with --token)",
      );
    if (this.opts.token === undefined) return;
    const auth = req.headers.authorization ?? "";
    if (auth !== `Bearer ${this.opts.token}`)
      throw new HttpError(401, "write routes need the header 'Authorization: Bearer <token>'");
  }

  /** Serve an item's image, looked up by id in the index: only files the index names are ever read. */
  private async image(id: string, reply: FastifyReply) {
    const [item] = await this.store.items([id]);
    if (!item) throw new HttpError(404, `no item '${id}' in the index`);
    const upload = (item.meta as { upload?: unknown } | undefined)?.upload;
    const file =
      typeof upload === "string" && UPLOAD_NAME.test(upload)
        ? join(this.dir, UPLOADS, upload)
        : isAbsolute(id)
          ? id
          : undefined;
    if (!file || !existsSync(file) || !statSync(file).isFile())
      throw new HttpError(404, `item '${id}' has no image file the server can read`);
    reply.type(mimeOf(file));
    reply.header("cache-control", "public, max-age=3600");
    return readFileSync(file);
  }

  /** What a POST /items asks to add: uploads (multipart files, or JSON base64) and server-side paths. */
  private async additionsOf(req: FastifyRequest): Promise<Addition[]> {
    const adds: Addition[] = [];
    if (req.isMultipart()) {
      let meta: Json | undefined;
      await eachPart(req, async (part) => {
        if (part.type === "file") adds.push({ bytes: await part.toBuffer(), name: part.filename });
        else if (part.fieldname === "meta") meta = parseJsonField("meta", String(part.value));
        else throw new HttpError(400, `unexpected field '${part.fieldname}' (expected files and 'meta')`);
      });
      if (meta !== undefined) for (const a of adds) a.meta = meta;
    } else {
      const body = req.body as { images?: unknown; paths?: unknown } | null;
      if (body === null || typeof body !== "object")
        throw new HttpError(400, "expected a JSON object {images?: [{image, meta?}], paths?: [path]}");
      if (body.images !== undefined) {
        if (!Array.isArray(body.images)) throw new HttpError(400, "'images' must be an array");
        body.images.forEach((im: unknown, i) => {
          const o = im as { image?: unknown; meta?: unknown } | null;
          if (o === null || typeof o !== "object" || typeof o.image !== "string")
            throw new HttpError(400, `images[${i}].image: expected a base64 string`);
          adds.push({ bytes: decodeBase64(o.image, `images[${i}].image`), meta: o.meta as Json });
        });
      }
      if (body.paths !== undefined) {
        if (!Array.isArray(body.paths) || body.paths.some((p) => typeof p !== "string"))
          throw new HttpError(400, "'paths' must be an array of strings");
        for (const p of body.paths as string[]) adds.push({ path: this.underRoot(p) });
      }
    }
    if (adds.length === 0) throw new HttpError(400, "nothing to add: send image files, 'images' or 'paths'");
    if (adds.length > this.limits.batchImages)
      throw new HttpError(
        413,
        `${adds.length} images in one request; the limit is ${this.limits.batchImages}`,
      );
    return adds;
  }

  /** A server-side path, which must lie under --root (symlinks resolved). */
  private underRoot(p: string): string {
    if (!this.root) throw new HttpError(403, "server-side paths are off (start the server with --root DIR)");
    let real: string;
    try {
      real = realpathSync(resolve(this.root, p));
    } catch {
      throw new HttpError(400, `no such file under the root: ${p}`);
    }
    const rel = relative(this.root, real);
    if (rel.startsWith("..") || isAbsolute(rel)) throw new HttpError(403, `${p} is outside the root`);
    return real;
  }

  private async add(adds: Addition[]) {
    const bytes: Uint8Array[] = [];
    const ids: string[] = [];
    const metas: (Json | undefined)[] = [];
    const uploads: { file: string; bytes: Uint8Array }[] = [];
    for (const a of adds) {
      const data = a.bytes ?? readFileSync(a.path as string);
      await this.checkImage(data);
      bytes.push(data);
      if (a.path) {
        ids.push(a.path);
        metas.push(a.meta);
      } else {
        const sha = createHash("sha256").update(data).digest("hex");
        const ext = extOf(await sharp(data).metadata());
        const name = `${sha}.${ext}`;
        ids.push(`upload:${sha.slice(0, 16)}`);
        const meta: Record<string, Json> = { upload: name };
        if (a.name) meta.filename = a.name;
        if (a.meta !== undefined) meta.user = a.meta;
        metas.push(meta);
        uploads.push({ file: join(this.dir, UPLOADS, name), bytes: data });
      }
    }
    const known = await this.store.existing(ids);
    const fresh = ids
      .map((id, i) => ({ id, i }))
      .filter(({ id }, j) => !known.has(id) && ids.indexOf(id) === j);
    if (fresh.length > 0) {
      this.checkQueue();
      const vectors = await this.inference.embedImages(fresh.map(({ i }) => bytes[i] as Uint8Array));
      // Upload files first: an item is committed only once its image is on disk.
      mkdirSync(join(this.dir, UPLOADS), { recursive: true });
      for (const u of uploads) if (!existsSync(u.file)) await storeUpload(u.file, u.bytes);
      await this.store.add(
        fresh.map(({ id }) => id),
        vectors,
        fresh.map(({ i }) => metas[i]),
      );
      await this.commit();
    }
    return {
      added: fresh.length,
      skipped: ids.length - fresh.length,
      ids,
      size: await this.store.size(),
    };
  }

  private async commit(): Promise<void> {
    await this.store.commit({ [INDEX_MODEL_FILE]: indexModelJson(this.info) });
    this.maybeBuildApproximate();
  }

  /** With `approximate`: start a background build when there is no graph or it lags the writes. */
  private maybeBuildApproximate(): void {
    if (!this.opts.approximate || this.draining) return;
    const a = this.store.approximate();
    const graph = a.stats?.items ?? 0;
    const stale = a.state === "none" || (a.state === "ready" && a.pending > Math.max(1000, graph / 10));
    if (!stale) return;
    this.store.buildApproximate().then(
      // Saved as a generation of its own, in turn with the writes.
      () => this.write(() => this.store.commit({ [INDEX_MODEL_FILE]: indexModelJson(this.info) })),
      (e: Error) => {
        if (!this.draining) this.app.log.error(`approximate index: ${e.message}`);
      },
    );
  }

  /** Run a write after the ones before it (answers in order, each durable when it answers). */
  private write<T>(run: () => Promise<T>): Promise<T> {
    const next = this.writes.then(run, run);
    this.writes = next.catch(() => undefined);
    return next;
  }
}

/**
 * Store an upload under its final name atomically and durably (a temporary name, flushed, renamed, the
 * folder flushed), off the event loop: a kill leaves no partial image under a name the index uses.
 */
async function storeUpload(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const dir = await open(dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The worker's model as a Moderator sees it: prompts and example images are embedded in the worker. */
function workerModel(inference: Inference, dir: string): EmbeddingModel {
  const bytesOf = (im: ImageInput): Uint8Array => {
    if (typeof im === "string") return readFileSync(im);
    if (im instanceof Uint8Array) return im;
    throw new UserError("juxta serve: a policy's example images must be files");
  };
  return {
    dim: inference.dim,
    hasText: inference.hasText,
    name: dir,
    dir,
    noTextTower: (why) => new UserError(`${dir} is an image-only encoder (no text tower); ${why}`),
    embedTexts: (texts) => inference.embedTexts([...texts]),
    embedImages: (images) => inference.embedImages(images.map(bytesOf)),
  };
}

type Part = Awaited<ReturnType<FastifyRequest["file"]>> & {};
type AnyPart = Part | { type: "field"; fieldname: string; value: unknown };

/** Visit each part of a multipart body; a truncated or malformed body is a 400 (too large: 413). */
async function eachPart(req: FastifyRequest, visit: (part: AnyPart) => Promise<void>): Promise<void> {
  try {
    for await (const part of req.parts()) await visit(part as AnyPart);
  } catch (e) {
    if (e instanceof HttpError) throw e;
    const err = e as Error & { statusCode?: number; code?: string };
    if (err.statusCode === 413 || err.code === "FST_REQ_FILE_TOO_LARGE")
      throw new HttpError(413, err.message);
    throw new HttpError(400, `malformed or truncated multipart body: ${err.message}`);
  }
}

interface Addition {
  bytes?: Uint8Array;
  path?: string;
  name?: string;
  meta?: Json;
}

export function imageUrl(id: string): string {
  return `/images/${encodeURIComponent(id)}`;
}

/** A search request's fields, checked: wrong types and values are 400s naming the field. */
export function parseQuery(body: unknown, limits: ServeLimits, hasPolicy = false): Query {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new HttpError(400, "expected a JSON object {text?, image?, id?, k?, …}");
  const b = body as Record<string, unknown>;
  const known = new Set(["text", "image", "id", "negative", "weights", "k", "offset", "dedup", "safe"]);
  for (const key of Object.keys(b)) if (!known.has(key)) throw new HttpError(400, `unknown field '${key}'`);
  const text = optString(b, "text", limits.queryChars);
  const negative = optString(b, "negative", limits.queryChars);
  const id = optString(b, "id", 4096);
  let image: Uint8Array | undefined;
  if (b.image instanceof Uint8Array) image = b.image;
  else if (typeof b.image === "string") image = decodeBase64(b.image, "image");
  else if (b.image !== undefined)
    throw new HttpError(400, "field 'image': expected a base64 string or an upload");
  if (text === undefined && image === undefined && id === undefined)
    throw new HttpError(400, "nothing to search for: give 'text', 'image' or 'id'");
  const k = optInt(b, "k", 10, 1, limits.k);
  const offset = optInt(b, "offset", 0, 0, limits.window - k);
  let weights: Query["weights"] = {};
  if (b.weights !== undefined) {
    const w = b.weights as Record<string, unknown>;
    if (w === null || typeof w !== "object" || Array.isArray(w))
      throw new HttpError(400, "field 'weights': expected {text?, image?, id?, negative?} numbers");
    for (const [key, v] of Object.entries(w)) {
      if (!["text", "image", "id", "negative"].includes(key))
        throw new HttpError(400, `field 'weights.${key}': unknown part (text, image, id or negative)`);
      if (typeof v !== "number" || !Number.isFinite(v))
        throw new HttpError(400, `field 'weights.${key}': expected a finite number`);
    }
    weights = w as Query["weights"];
  }
  let dedup: number | undefined;
  if (b.dedup === true) dedup = DEFAULT_DEDUP_THRESHOLD;
  else if (typeof b.dedup === "number" && b.dedup > 0 && b.dedup <= 1) dedup = b.dedup;
  else if (b.dedup !== undefined && b.dedup !== false)
    throw new HttpError(400, "field 'dedup': expected true, false or a cosine threshold in (0, 1]");
  if (b.safe !== undefined && typeof b.safe !== "boolean")
    throw new HttpError(400, "field 'safe': expected true or false");
  if (b.safe === true && !hasPolicy)
    throw new HttpError(400, "field 'safe': this server has no moderation policy configured (--policy)");
  return { text, negative, image, id, weights, k, offset, dedup, safe: b.safe === true };
}

function optString(b: Record<string, unknown>, key: string, max: number): string | undefined {
  const v = b[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new HttpError(400, `field '${key}': expected a string`);
  if (v.trim() === "") throw new HttpError(400, `field '${key}': empty`);
  if (v.length > max) throw new HttpError(400, `field '${key}': ${v.length} characters, the limit is ${max}`);
  return v;
}

function optInt(b: Record<string, unknown>, key: string, def: number, min: number, max: number): number {
  const v = b[key];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new HttpError(
      400,
      `field '${key}': expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
    );
  return v;
}

/** Multipart fields arrive as text: numbers, booleans and JSON objects are read back. */
function fieldValue(name: string, v: string): unknown {
  if (name === "k" || name === "offset") return /^\d+$/.test(v) ? Number(v) : v;
  if (name === "dedup" || name === "safe") return v === "true" ? true : v === "false" ? false : Number(v);
  if (name === "weights") return parseJsonField(name, v);
  return v;
}

function parseJsonField(name: string, v: string): Json {
  try {
    return JSON.parse(v) as Json;
  } catch {
    throw new HttpError(400, `field '${name}': not valid JSON`);
  }
}

function decodeBase64(s: string, field: string): Uint8Array {
  const body = s.replace(/^data:[^;,]*;base64,/, "");
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(body)) throw new HttpError(400, `field '${field}': not base64`);
  const bytes = Buffer.from(body, "base64");
  if (bytes.length === 0) throw new HttpError(400, `field '${field}': empty`);
  return bytes;
}

function extOf(meta: Metadata): string {
  const f = meta.format ?? "png";
  return f === "jpeg" ? "jpg" : f === "heif" ? "avif" : f;
}

const MIME: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".gif": "image/gif",
  ".avif": "image/avif",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".bmp": "image/bmp",
  ".svg": "application/octet-stream",
};

function mimeOf(file: string): string {
  return MIME[extname(file).toLowerCase()] ?? "application/octet-stream";
}
