/**
 * The report of a training run of any family as data for `renderReport`: the run's facts (RUN/juxta.json,
 * RUN/state.json), its training curves (RUN/metrics.jsonl) with their chance levels, evaluations over
 * training (RUN/evals.jsonl) and of the final model (RUN/eval.json, as the quickstart writes it, or one run
 * here on the given data), and, given a data set, a map of image embeddings coloured by label and a few
 * retrievals with thumbnails: text → image for models with a text tower (plus the similarity matrix of
 * the first pairs), image → image for image-only encoders (SimCLR, MoCo, SupCon, triplet).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import sharp from "sharp";
import type { DatasetOptions } from "../data/options.js";
import type { ImageRef, SkipLog } from "../data/types.js";
import {
  type EvalResult,
  type EvalSet,
  evaluateClip,
  evalValues,
  loadEvalSet,
  withoutImages,
} from "../eval/clip.js";
import { ModelHandle } from "../handle/model.js";
import { describeRef } from "../image/decode.js";
import { CLIP } from "../models/clip.js";
import type { LoadedRun } from "../models/saved.js";
import { normalizedRows } from "../pipelines/vectors.js";
import type {
  ChanceLevels,
  EvalRecord,
  FinalEval,
  ReportData,
  Retrieval,
  TrainingStep,
} from "../report/index.js";
import { dot } from "../search/kernels.js";
import { readState, type TrainState } from "../train/checkpoint.js";
import { inputError, jsonErrorMessage, UserError } from "../util/errors.js";
import type { ProgressStream } from "../util/progress.js";
import { evaluateImageModel } from "./image-encoder.js";

export interface RunReportOptions {
  /** A data set for the evaluation, the similarity matrix, the embedding map and the retrievals. */
  data?: string;
  dataset?: DatasetOptions;
  log?: SkipLog;
  /**
   * Labelled training images for kNN and the linear probe (an image encoder's evaluation; also added to a
   * CLIP's). Without it an image encoder is evaluated when `data` is a folder with train and test splits.
   */
  knnTrain?: string;
  /** Evaluate the final model on `data` when the run holds no eval.json (default true). */
  evaluate?: boolean;
  /** Pairs in the similarity matrix (default 16). */
  pairs?: number;
  /** Images on the embedding map and in the retrieval gallery (default 500). */
  mapPoints?: number;
  /** Queries in the retrieval gallery (default 6), and results per query (default 5). */
  queries?: number;
  topK?: number;
  /** When the report was written, shown under the title (default: now, in UTC). */
  createdAt?: string;
  progress?: ProgressStream;
}

export const THUMBNAIL_SIZE = 64;
/** The quickstart's evaluation of the final model. */
export const EVAL_FILE = "eval.json";

const METHOD_NAMES: Record<string, string> = {
  clip: "CLIP",
  siglip: "SigLIP",
  simclr: "SimCLR",
  moco: "MoCo",
  supcon: "SupCon",
  triplet: "Triplet",
};

/** Gather everything the report shows about the run in `run.dir`. */
export async function buildRunReport(run: LoadedRun, opts: RunReportOptions = {}): Promise<ReportData> {
  const dir = run.dir;
  const metrics = readJsonLines(join(dir, "metrics.jsonl"), (row, at): TrainingStep => {
    const optional = (name: string) => (typeof row[name] === "number" ? (row[name] as number) : undefined);
    return {
      step: numberField(row, "step", at),
      loss: numberField(row, "loss", at),
      lr: optional("lr"),
      // CLIP's and SigLIP's logs call the logit scale exp(t) "temperature" (it is 1/temperature).
      logitScale: optional("temperature"),
      bias: optional("bias"),
      accuracy: optional("accuracy"),
      gradNorm: optional("grad_norm"),
      active: optional("active"),
    };
  });
  const evals = readJsonLines(join(dir, "evals.jsonl"), (row, at): EvalRecord => {
    const values = row.values;
    if (values === null || typeof values !== "object" || Array.isArray(values))
      throw inputError({ ...at, field: "values" }, 'expected an object {"metric": number}');
    const clean: Record<string, number> = {};
    for (const [k, v] of Object.entries(values)) if (typeof v === "number") clean[k] = v;
    return { step: numberField(row, "step", at), values: clean, chance: chanceOf(clean, row) };
  });
  const state = readState(dir);
  const method = run.config.method ?? (run.model instanceof CLIP ? "clip" : "image encoder");
  const methodName = METHOD_NAMES[method] ?? method;
  const when = runDate(dir);
  const label = folderLabel(dir);
  const report: ReportData = {
    title: `${methodName} run ${label}${when ? ` (${when.slice(0, 10)})` : ""}`,
    createdAt: `report written ${opts.createdAt ?? utcMinute(new Date())}${when ? `; run last saved ${when}` : ""}`,
    run: runFacts(run, methodName, state, metrics),
    metrics,
    chance: chanceLevels(method, state?.options.batch, mocoQueueSize(dir)),
    evals,
  };
  // An eval.json of an earlier step no longer describes the model: evaluate again when data is given.
  const saved = readFinalEval(dir, run.config.step);
  if (saved) report.finalEval = saved.eval;
  if (opts.data !== undefined)
    Object.assign(report, await dataSections(run, opts.data, opts, !saved?.current));
  return report;
}

/** The run table: what was trained, on what, how long it took, how far it got. */
function runFacts(
  run: LoadedRun,
  methodName: string,
  state: TrainState | undefined,
  metrics: TrainingStep[],
): ReportData["run"] {
  const o = state?.options ?? {};
  const { config, model } = run;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const schedule =
    num(o.epochs) !== undefined
      ? `${o.epochs} epoch${o.epochs === 1 ? "" : "s"}`
      : num(o.minutes) !== undefined
        ? `a ${o.minutes}-minute budget`
        : undefined;
  const steps = state
    ? `${state.step} of ${state.totalSteps} planned${state.step < state.totalSteps ? " (unfinished: resume to go on)" : ""}`
    : config.step;
  const ev = state?.evals;
  const facts: ReportData["run"] = {
    method: methodName,
    preset: config.preset,
    parameters: model.parameters().reduce((n, p) => n + p.data.length, 0),
    data: str(o.data),
    batch: num(o.batch),
    "learning rate": num(o.lr),
    "warm-up steps": state?.warmupSteps,
    schedule,
    steps,
    "training time": state ? seconds(state.elapsedSeconds) : undefined,
    "of it evaluating": ev && ev.runs > 0 ? `${seconds(ev.seconds)} (${ev.runs} evaluations)` : undefined,
    "set-up time": state?.setupSeconds !== undefined ? seconds(state.setupSeconds) : undefined,
    "embedding size": run.model instanceof CLIP ? run.model.cfg.embedDim : run.model.featureDim,
    "image size": run.preprocess.imageSize,
  };
  if (run.model instanceof CLIP) facts["text context"] = run.model.cfg.text.contextLength;
  if ("classes" in config && config.classes) facts.classes = config.classes.length;
  const last = metrics.at(-1);
  facts["final loss"] = last?.loss;
  facts["final logit scale"] = last?.logitScale;
  facts.folder = resolve(run.dir);
  return facts;
}

/**
 * The loss and in-batch accuracy of a model whose scores are all equal, for a method's batch of `batch`
 * samples: InfoNCE over C candidates gives ln C and 1/C (CLIP: the batch; SimCLR and SupCon: the other
 * 2B − 1 views; MoCo: the positive and the K queued keys). SigLIP's sigmoid loss has no such level.
 */
export function chanceLevels(method: string, batch: unknown, queue?: number): ChanceLevels {
  const candidates =
    typeof batch !== "number" || !(batch > 1)
      ? undefined
      : method === "clip"
        ? batch
        : method === "simclr" || method === "supcon"
          ? 2 * batch - 1
          : method === "moco" && queue !== undefined
            ? queue + 1
            : undefined;
  if (candidates === undefined) return {};
  const levels: ChanceLevels = { loss: { y: Math.log(candidates), label: `chance: ln ${candidates}` } };
  if (method !== "supcon") levels.accuracy = { y: 1 / candidates, label: `chance: 1/${candidates}` };
  return levels;
}

/**
 * Chance levels of evaluation values from what was evaluated: R@k of image → text is k/captions, of
 * text → image k/images; top-k classification k/classes (`counts` and `classes` as evaluation logs hold them).
 */
export function chanceOf(
  values: Record<string, number>,
  row: Record<string, unknown>,
): Record<string, number> {
  const counts = (row.counts ?? {}) as Record<string, unknown>;
  const zero = (row.zero_shot ?? {}) as Record<string, unknown>;
  const classes = typeof row.classes === "number" ? row.classes : zero.classes;
  const within = (k: number, n: unknown) => (typeof n === "number" && n > 0 ? Math.min(1, k / n) : undefined);
  const out: Record<string, number> = {};
  for (const key of Object.keys(values)) {
    const [group, name] = key.split("/") as [string, string | undefined];
    const k = Number(/^(?:R@|top)(\d+)$/.exec(name ?? "")?.[1]);
    if (!Number.isInteger(k)) continue;
    const c =
      group === "image_to_text"
        ? within(k, counts.texts)
        : group === "text_to_image"
          ? within(k, counts.images)
          : group === "zero_shot" || group === "knn" || group === "linear_probe"
            ? within(k, classes)
            : undefined;
    if (c !== undefined) out[key] = c;
  }
  return out;
}

/** RUN/eval.json (the quickstart's evaluation of the final model), when there is one; `current` if of `step`. */
function readFinalEval(dir: string, step: number): { eval: FinalEval; current: boolean } | undefined {
  const file = join(dir, EVAL_FILE);
  if (!existsSync(file)) return undefined;
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${jsonErrorMessage(e)})`);
  }
  const values = row.values;
  if (values === null || typeof values !== "object" || Array.isArray(values))
    throw inputError({ file, field: "values" }, 'expected an object {"metric": number}');
  const clean: Record<string, number> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === "number") clean[k] = v;
  const current = row.step === step;
  const at = typeof row.step === "number" ? `, step ${row.step}` : "";
  return {
    current,
    eval: {
      source: `${EVAL_FILE}${at}${current ? "" : `; the model is now at step ${step}`}`,
      values: clean,
      chance: chanceOf(clean, row),
      counts: countsLine(row.counts),
    },
  };
}

function countsLine(counts: unknown): string | undefined {
  if (counts === null || typeof counts !== "object") return undefined;
  const c = counts as Record<string, unknown>;
  const parts = [
    [c.images, "images"],
    [c.texts, "distinct captions"],
    [c.labelled, "labelled"],
  ].filter(([n]) => typeof n === "number");
  return parts.length ? parts.map(([n, what]) => `${n} ${what}`).join(", ") : undefined;
}

/** Evaluation, similarity matrix, embedding map and retrievals over a sample of `data`. */
async function dataSections(
  run: LoadedRun,
  data: string,
  opts: RunReportOptions,
  evaluateHere: boolean,
): Promise<Partial<ReportData>> {
  const set = await loadEvalSet(data, { dataset: opts.dataset, log: opts.log });
  const handle = new ModelHandle(run, { progress: opts.progress });
  try {
    const out: Partial<ReportData> = {};
    if (evaluateHere && opts.evaluate !== false)
      out.finalEval = await finalEvaluation(handle, run, set, data, opts);
    Object.assign(
      out,
      // CLIP evaluation has logged the set's unreadable images already; the pool's are among them.
      await (handle.hasText ? textSections : imageSections)(
        handle,
        set,
        opts,
        out.finalEval && handle.hasText ? undefined : opts.log,
      ),
    );
    return out;
  } finally {
    await handle.dispose();
  }
}

/** The final model evaluated on `data` now: CLIP's full evaluation, or an image encoder's kNN and probe. */
async function finalEvaluation(
  handle: ModelHandle,
  run: LoadedRun,
  set: EvalSet,
  data: string,
  opts: RunReportOptions,
): Promise<FinalEval> {
  const source = `evaluated now on ${data}`;
  if (handle.hasText) {
    const r: EvalResult = await evaluateClip(handle, set, {
      dataset: opts.dataset,
      log: opts.log,
      knnTrain: opts.knnTrain,
    });
    const values = evalValues(r);
    return {
      source,
      values,
      chance: chanceOf(values, r as unknown as Record<string, unknown>),
      counts: countsLine(r.counts),
    };
  }
  try {
    const r = await evaluateImageModel(run.dir, data, { knnTrain: opts.knnTrain, dataset: opts.dataset });
    const values = {
      "knn/top1": r.knn.top1,
      "knn/top5": r.knn.top5,
      "linear_probe/top1": r.linear_probe.top1,
      "linear_probe/top5": r.linear_probe.top5,
    };
    // Top-1 chance is the largest class's share of the test set: always guessing it scores that.
    const chance = { ...chanceOf(values, { classes: r.classes.length }) };
    chance["knn/top1"] = r.chance;
    chance["linear_probe/top1"] = r.chance;
    return {
      source,
      values,
      chance,
      counts: `${r.testSamples} test images, ${r.trainSamples} training images, ${r.classes.length} classes`,
    };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return { source, values: {}, chance: {}, note: e.message };
  }
}

/** Similarity matrix, map of image embeddings and text → image retrievals (models with a text tower). */
async function textSections(
  handle: ModelHandle,
  loaded: EvalSet,
  opts: RunReportOptions,
  log: SkipLog | undefined,
): Promise<Partial<ReportData>> {
  const firsts = firstPairs(loaded, opts.pairs ?? 16);
  const read = await embedPool(handle, loaded, pickPool(loaded, firsts, opts.mapPoints ?? 500), log);
  const { set, pool } = read;
  // The pairs are the first entries of the pool, so their image rows come first.
  const pairs = pool.slice(0, firsts.filter((i) => !read.dropped.has(i)).length);
  const queryImages = pickQueries(
    set,
    pool.filter((i) => set.images[i]?.text !== undefined),
    opts.queries ?? 6,
  );
  const queries = queryImages.map((i) => set.images[i]?.text as string);
  const dim = handle.dim;
  const images = normalizedRows(read.embeds, dim, "image");
  const pairTexts = pairs.map((i) => set.images[i]?.text as string);
  const texts = normalizedRows(await handle.embedTexts([...pairTexts, ...queries]), dim, "text");
  const n = pairs.length;
  const matrix = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) matrix[i * n + j] = dot(images, i * dim, texts, j * dim, dim);
  const out: Partial<ReportData> = { embeddings: embeddingsOf(set, pool, images, dim, "image embeddings") };
  if (n > 0) out.similarity = { matrix, n, texts: pairTexts };
  if (queries.length > 0)
    out.retrievals = {
      kind: "text-to-image",
      candidates: pool.length,
      queries: await Promise.all(
        queries.map((query, q) => {
          const matches = new Set(set.textToImages[set.texts.indexOf(query)]);
          return rankPool(set, pool, images, texts, (n + q) * dim, dim, (i) => matches.has(i), opts, {
            query,
          });
        }),
      ),
    };
  return out;
}

/** Map of backbone features and image → image retrievals (image-only encoders): same label is a match. */
async function imageSections(
  handle: ModelHandle,
  loaded: EvalSet,
  opts: RunReportOptions,
  log: SkipLog | undefined,
): Promise<Partial<ReportData>> {
  const { set, pool, embeds } = await embedPool(
    handle,
    loaded,
    pickPool(loaded, [], opts.mapPoints ?? 500),
    log,
  );
  const dim = handle.dim;
  const features = normalizedRows(embeds, dim, "image");
  const out: Partial<ReportData> = {
    embeddings: embeddingsOf(set, pool, features, dim, "backbone features"),
  };
  const positions = pickQueries(set, pool, opts.queries ?? 6).map((i) => pool.indexOf(i));
  if (positions.length > 0)
    out.retrievals = {
      kind: "image-to-image",
      candidates: pool.length - 1,
      queries: await Promise.all(
        positions.map(async (p) => {
          const item = set.images[pool[p] as number]!;
          const same = (i: number) => item.label !== undefined && set.images[i]?.label === item.label;
          return rankPool(set, pool, features, features, p * dim, dim, same, opts, {
            query: item.label ? `${item.label} (${basename(item.id)})` : basename(item.id),
            queryPng: await thumbnail(item.ref),
            exclude: p,
          });
        }),
      ),
    };
  return out;
}

/**
 * Embed the images `pool` names (indices into `set`), leaving out the unreadable ones as evaluation does:
 * the set without them, the pool renumbered to it (one embedding row per entry, in order), and the
 * indices dropped (into the old set). Each is logged to `log`; none readable is an error.
 */
async function embedPool(
  handle: ModelHandle,
  set: EvalSet,
  pool: number[],
  log: SkipLog | undefined,
): Promise<{ set: EvalSet; pool: number[]; embeds: Float32Array; dropped: Set<number> }> {
  const r = await handle.embedImagesSkipping(pool.map((i) => set.images[i]?.ref as ImageRef));
  const dropped = new Set(r.skipped.map((s) => pool[s.index] as number));
  if (dropped.size === 0) return { set, pool, embeds: r.embeds, dropped };
  if (r.kept.length === 0)
    throw new UserError(
      `${set.path}: none of the ${pool.length} images sampled for the report could be read`,
    );
  for (const s of r.skipped) {
    const i = pool[s.index] as number;
    log?.add(set.origins?.[i] ?? { file: set.images[i]?.id }, s.reason);
  }
  const renumbered = new Map<number, number>();
  set.images.forEach((_, i) => {
    if (!dropped.has(i)) renumbered.set(i, renumbered.size);
  });
  return {
    set: withoutImages(set, dropped),
    pool: pool.flatMap((i) => renumbered.get(i) ?? []),
    embeds: r.embeds,
    dropped,
  };
}

function embeddingsOf(
  set: EvalSet,
  pool: number[],
  points: Float32Array,
  dim: number,
  what: string,
): NonNullable<ReportData["embeddings"]> {
  return { points, n: pool.length, dim, labels: pool.map((i) => set.images[i]?.label ?? "(no label)"), what };
}

/**
 * Rank the pool's images by similarity to one query row: the best `topK` with thumbnails (matches marked),
 * and where the first match ranks (its thumbnail too when it falls outside the top).
 */
async function rankPool(
  set: EvalSet,
  pool: number[],
  images: Float32Array,
  queries: Float32Array,
  queryOffset: number,
  dim: number,
  isMatch: (image: number) => boolean,
  opts: RunReportOptions,
  extra: { query: string; queryPng?: Uint8Array; exclude?: number },
): Promise<Retrieval> {
  const order = pool
    .map((_, r) => ({ r, score: dot(queries, queryOffset, images, r * dim, dim) }))
    .filter(({ r }) => r !== extra.exclude)
    .sort((a, b) => b.score - a.score || a.r - b.r);
  const top = Math.min(opts.topK ?? 5, order.length);
  const firstMatch = order.findIndex(({ r }) => isMatch(pool[r] as number));
  const shown = order.slice(0, top).map((o, rank) => ({ ...o, rank: rank + 1 }));
  if (firstMatch >= top)
    shown.push({ ...(order[firstMatch] as { r: number; score: number }), rank: firstMatch + 1 });
  const results = await Promise.all(
    shown.map(async ({ r, score, rank }) => {
      const item = set.images[pool[r] as number]!;
      return {
        score,
        rank,
        match: isMatch(pool[r] as number),
        png: await thumbnail(item.ref),
        // Image queries are judged by label, so results show theirs; caption queries show each image's caption.
        caption: (extra.queryPng ? item.label : item.text) ?? item.text ?? item.label ?? basename(item.id),
      };
    }),
  );
  return { ...extra, results, matchRank: firstMatch < 0 ? undefined : firstMatch + 1 };
}

/** Up to `n` images with captions, each caption distinct, in data set order: the diagonal pairs. */
function firstPairs(set: EvalSet, n: number): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  for (let i = 0; i < set.images.length && out.length < n; i++) {
    const text = set.images[i]?.text;
    if (text === undefined || seen.has(text)) continue;
    seen.add(text);
    out.push(i);
  }
  return out;
}

/** The pairs first, then images spread evenly over the set, `total` in all (or every image). */
function pickPool(set: EvalSet, pairs: number[], total: number): number[] {
  const taken = new Set(pairs);
  const rest = set.images.map((_, i) => i).filter((i) => !taken.has(i));
  return [...pairs, ...spread(rest, Math.max(0, total - pairs.length))];
}

/**
 * `k` query images from `candidates`, as varied as the set allows: a fixed shuffle (the same report twice is
 * the same page), then one per label (or caption) before any repeats.
 */
function pickQueries(set: EvalSet, candidates: number[], k: number): number[] {
  let seed = 2463534242;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const shuffled = [...candidates];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] as number, shuffled[i] as number];
  }
  const seen = new Set<string>();
  const first: number[] = [];
  const later: number[] = [];
  for (const i of shuffled) {
    const im = set.images[i]!;
    const key = im.label ?? im.text ?? im.id;
    (seen.has(key) ? later : first).push(i);
    seen.add(key);
  }
  return [...first, ...later].slice(0, k);
}

/** `k` entries of `xs` evenly spaced (all of them when there are no more than `k`). */
function spread<T>(xs: readonly T[], k: number): T[] {
  if (xs.length <= k) return [...xs];
  return Array.from({ length: k }, (_, j) => xs[Math.floor((j * xs.length) / k)] as T);
}

/** A PNG thumbnail fitting THUMBNAIL_SIZE × THUMBNAIL_SIZE on white. */
export async function thumbnail(ref: ImageRef, size = THUMBNAIL_SIZE): Promise<Uint8Array> {
  const input =
    ref.kind === "raw"
      ? sharp(ref.pixels, { raw: { width: ref.width, height: ref.height, channels: ref.channels } })
      : sharp(ref.kind === "file" ? ref.path : ref.bytes);
  try {
    const png = await input
      .resize(size, size, { fit: "contain", background: "#ffffff" })
      .flatten({ background: "#ffffff" })
      .png()
      .toBuffer();
    return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
  } catch (e) {
    throw new UserError(`cannot make a thumbnail of ${describeRef(ref)}: ${(e as Error).message}`);
  }
}

/** MoCo's queue length, from the shape in moco.safetensors' header (the file's tensors are not read). */
function mocoQueueSize(dir: string): number | undefined {
  const file = join(dir, "moco.safetensors");
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) < 8) return undefined;
    const len = Number(head.readBigUInt64LE(0));
    if (!(len > 0 && len < 1 << 24)) return undefined;
    const json = Buffer.alloc(len);
    readSync(fd, json, 0, len, 8);
    const shape = (JSON.parse(json.toString("utf8")) as { queue?: { shape?: number[] } }).queue?.shape;
    return typeof shape?.[0] === "number" ? shape[0] : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** When the run was last checkpointed (state.json, else the weights), as `2026-12-02 16:50 UTC`. */
function runDate(dir: string): string | undefined {
  for (const f of ["state.json", "model.safetensors"]) {
    const file = join(dir, f);
    if (existsSync(file)) return utcMinute(statSync(file).mtime);
  }
  return undefined;
}

function utcMinute(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** The run folder as a reader knows it: its parent and name (`quickstart/run`, not just `run`). */
function folderLabel(dir: string): string {
  const abs = resolve(dir);
  const parent = basename(dirname(abs));
  return parent && parent !== "/" ? `${parent}/${basename(abs)}` : basename(abs);
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

type Row = Record<string, unknown>;

/** Parse a JSON-lines log; a missing file is an empty log, a bad line an error naming it. */
function readJsonLines<T>(file: string, parse: (row: Row, at: { file: string; line: number }) => T): T[] {
  if (!existsSync(file)) return [];
  const out: T[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (line.trim() === "") return;
      const at = { file, line: i + 1 };
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        throw inputError(at, "not valid JSON");
      }
      if (row === null || typeof row !== "object" || Array.isArray(row))
        throw inputError(at, "expected a JSON object");
      out.push(parse(row as Row, at));
    });
  return out;
}

/** A numeric field; null (how a log writes a non-finite value) reads as NaN, a gap in the curve. */
function numberField(row: Row, field: string, at: { file: string; line: number }): number {
  const v = row[field];
  if (typeof v === "number") return v;
  if (v === null) return Number.NaN;
  throw inputError({ ...at, field }, "expected a number");
}
