/**
 * The report of a training run as data for `renderReport`: the run's facts, its loss/temperature/lr
 * curves (RUN/metrics.jsonl), evaluations over training (RUN/evals.jsonl), and, given a data set, the
 * similarity matrix of its first pairs, a PCA map of image embeddings coloured by label and a few
 * text-to-image retrievals with 64-pixel thumbnails.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import sharp from "sharp";
import type { DatasetOptions } from "../data/options.js";
import type { ImageRef, SkipLog } from "../data/types.js";
import { ModelHandle } from "../handle/model.js";
import { describeRef } from "../image/decode.js";
import type { LoadedClip } from "../models/saved.js";
import { normalizedRows } from "../pipelines/vectors.js";
import type { ChanceLevels, ReportData, TrainingStep } from "../report/index.js";
import { dot, TopK } from "../search/kernels.js";
import { readState } from "../train/checkpoint.js";
import { inputError, UserError } from "../util/errors.js";
import type { ProgressStream } from "../util/progress.js";
import { type EvalSet, loadEvalSet } from "./evaluate.js";

export interface RunReportOptions {
  /** A data set for the similarity matrix, embedding map and retrievals. */
  data?: string;
  dataset?: DatasetOptions;
  log?: SkipLog;
  /** Pairs in the similarity matrix (default 16). */
  pairs?: number;
  /** Images on the embedding map and in the retrieval gallery (default 500). */
  mapPoints?: number;
  /** Caption queries shown with their best images (default 4), and images per query (default 5). */
  queries?: number;
  topK?: number;
  /** Shown under the title (e.g. the date). */
  createdAt?: string;
  progress?: ProgressStream;
}

export const THUMBNAIL_SIZE = 64;

/** Gather everything the report shows about the run in `clip.dir`. */
export async function buildRunReport(clip: LoadedClip, opts: RunReportOptions = {}): Promise<ReportData> {
  const dir = clip.dir;
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
  const evals = readJsonLines(join(dir, "evals.jsonl"), (row, at) => {
    const values = row.values;
    if (values === null || typeof values !== "object" || Array.isArray(values))
      throw inputError({ ...at, field: "values" }, 'expected an object {"metric": number}');
    const clean: Record<string, number> = {};
    for (const [k, v] of Object.entries(values)) if (typeof v === "number") clean[k] = v;
    return { step: numberField(row, "step", at), values: clean };
  });
  const { config, model } = clip;
  const last = metrics.at(-1);
  const report: ReportData = {
    title: `Juxta run ${basename(resolve(dir))}`,
    createdAt: opts.createdAt,
    run: {
      folder: resolve(dir),
      preset: config.preset,
      steps: config.step,
      parameters: model.parameters().reduce((n, p) => n + p.data.length, 0),
      "embedding size": model.cfg.embedDim,
      "image size": model.cfg.vision.imageSize,
      "text context": model.cfg.text.contextLength,
      "final loss": last?.loss,
      "final logit scale": last?.logitScale,
    },
    metrics,
    chance: chanceLevels(config.method ?? "clip", readState(dir)?.options.batch),
    evals,
  };
  if (opts.data !== undefined) Object.assign(report, await dataSections(clip, opts.data, opts));
  return report;
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

/** Similarity matrix, embedding map and retrievals over a sample of `data`. */
async function dataSections(
  clip: LoadedClip,
  data: string,
  opts: RunReportOptions,
): Promise<Pick<ReportData, "similarity" | "embeddings" | "retrievals">> {
  const set = await loadEvalSet(data, { dataset: opts.dataset, log: opts.log });
  const pairs = firstPairs(set, opts.pairs ?? 16);
  const pool = pickPool(set, pairs, opts.mapPoints ?? 500);
  const queries = spread(
    pool.filter((i) => set.images[i]?.text !== undefined),
    opts.queries ?? 4,
  ).map((i) => set.images[i]?.text as string);
  const embedder = new ModelHandle(clip, { progress: opts.progress });
  try {
    const dim = embedder.dim;
    const images = normalizedRows(
      await embedder.embedImages(pool.map((i) => set.images[i]?.ref as ImageRef)),
      dim,
      "image",
    );
    const pairTexts = pairs.map((i) => set.images[i]?.text as string);
    const texts = normalizedRows(await embedder.embedTexts([...pairTexts, ...queries]), dim, "text");
    // The pairs are the first entries of the pool, so their image rows come first.
    const n = pairs.length;
    const matrix = new Float32Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) matrix[i * n + j] = dot(images, i * dim, texts, j * dim, dim);
    const sections: Pick<ReportData, "similarity" | "embeddings" | "retrievals"> = {
      embeddings: {
        points: images,
        n: pool.length,
        dim,
        labels: pool.map((i) => set.images[i]?.label ?? "(no label)"),
      },
    };
    if (n > 0) sections.similarity = { matrix, n, texts: pairTexts };
    if (queries.length > 0)
      sections.retrievals = await Promise.all(
        queries.map(async (query, q) => {
          const heap = new TopK(Math.min(opts.topK ?? 5, pool.length));
          for (let r = 0; r < pool.length; r++) heap.push(dot(texts, (n + q) * dim, images, r * dim, dim), r);
          const matches = new Set(set.textToImages[set.texts.indexOf(query)]);
          const results = await Promise.all(
            heap.sorted().map(async ({ index, score }) => {
              const item = set.images[pool[index] as number]!;
              const mark = matches.has(pool[index] as number) ? "✓ " : "";
              return { score, png: await thumbnail(item.ref), caption: `${mark}${item.text ?? item.id}` };
            }),
          );
          return { query, results };
        }),
      );
    return sections;
  } finally {
    await embedder.dispose();
  }
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
