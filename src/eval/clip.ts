/**
 * `evaluateClip`: every standard CLIP evaluation of a model on one data set, from the samples to the
 * numbers: image↔text retrieval recall, zero-shot classification over the set's labels, and, given a
 * labelled training set, weighted kNN and a linear probe on frozen image features.
 *
 * Samples are grouped before anything is embedded: samples showing the same image (same path or record)
 * are one gallery image with all their captions, and equal captions are one text query matching all of
 * their images, so each image and each distinct caption is embedded once and recall counts any true match.
 */

import { decodeCheck } from "../data/check.js";
import { type ImageItem, imageId } from "../data/image-set.js";
import { openDataset } from "../data/open.js";
import type { DatasetOptions } from "../data/options.js";
import { type Sample, SkipLog } from "../data/types.js";
import { type HandleModel, type ModelHandle, withHandle } from "../handle/model.js";
import { classEmbeddings, promptName, resolveTemplates } from "../pipelines/templates.js";
import { normalizedRows } from "../pipelines/vectors.js";
import { type Location, UserError } from "../util/errors.js";
import type { ProgressStream } from "../util/progress.js";
import { type KnnOptions, knnAccuracy } from "./knn.js";
import { type LinearProbeOptions, linearProbe } from "./linear-probe.js";
import { type RecallAtK, retrievalRecall } from "./retrieval.js";
import { type ZeroShotResult, zeroShotAccuracy } from "./zeroshot.js";

/** A data set grouped for evaluation; load once with `loadEvalSet` to evaluate many times (training). */
export interface EvalSet {
  path: string;
  samples: number;
  /** Distinct images, in order of first appearance, each with its first label. */
  images: ImageItem[];
  /** Distinct captions. */
  texts: string[];
  /** For each caption, the indices (into `images`) of the images it describes. */
  textToImages: number[][];
  /** Where each image was first read (file and line), for the skip log. */
  origins?: Location[];
  /** How many samples show each image. */
  rows?: number[];
  /** Images already left out as unreadable (`checkEvalImages`). */
  skipped?: number;
}

export interface EvalOptions {
  /** Field paths, template and format for reading the data sets (as `juxta train` takes them). */
  dataset?: DatasetOptions;
  /** A labelled set whose image features train the kNN classifier and the linear probe. */
  knnTrain?: string | EvalSet;
  /** Zero-shot prompt templates (default: photo and emoji templates together). */
  templates?: readonly string[];
  /** Cut-offs for retrieval recall (default 1, 5, 10). */
  ks?: readonly number[];
  /** kNN options (default k = 200, t = 0.1). */
  knn?: KnnOptions;
  /** Linear-probe options, or false to skip the probe when a kNN set is given. */
  linearProbe?: LinearProbeOptions | false;
  /** Draw progress lines here (e.g. process.stderr) when `model` is not a handle (a handle has its own). */
  progress?: ProgressStream;
  /** Where rows the readers skip are counted (a strict log makes them fatal). */
  log?: SkipLog;
}

export interface ProbeAccuracy {
  top1: number;
  top5: number;
}

export interface EvalResult {
  image_to_text?: RecallAtK;
  text_to_image?: RecallAtK;
  zero_shot?: ZeroShotResult;
  knn?: ProbeAccuracy;
  linear_probe?: ProbeAccuracy;
  /**
   * What was evaluated: samples, distinct images, distinct captions, labelled images; and the images
   * skipped as unreadable (their samples are not counted in the others).
   */
  counts: { samples: number; images: number; texts: number; labelled: number; skipped: number };
}

/**
 * Read and group a data set. A folder holding train and test manifests is read as `split` (default test).
 */
export async function loadEvalSet(
  path: string,
  opts: { dataset?: DatasetOptions; log?: SkipLog; split?: "train" | "test" } = {},
): Promise<EvalSet> {
  const log = opts.log ?? new SkipLog();
  const samples = await openDataset(path, { split: opts.split ?? "test", ...opts.dataset }, log);
  if (samples.length === 0) throw new UserError(`${path}: no samples to evaluate on`);
  const imageIndex = new Map<string, number>();
  const images: ImageItem[] = [];
  const textIndex = new Map<string, number>();
  const texts: string[] = [];
  const textToImages: number[][] = [];
  const origins: Location[] = [];
  const rows: number[] = [];
  for (const s of samples) {
    const id = imageId(s);
    let i = imageIndex.get(id);
    if (i === undefined) {
      i = images.length;
      imageIndex.set(id, i);
      images.push({ id, ref: s.image, text: s.text, label: s.label });
      origins.push(s.origin);
      rows.push(0);
    } else (images[i] as ImageItem).label ??= s.label;
    rows[i]!++;
    if (s.text === undefined) continue;
    let t = textIndex.get(s.text);
    if (t === undefined) {
      t = texts.length;
      textIndex.set(s.text, t);
      texts.push(s.text);
      textToImages.push([]);
    }
    const matches = textToImages[t] as number[];
    if (!matches.includes(i)) matches.push(i);
  }
  return { path, samples: samples.length, images, texts, textToImages, origins, rows };
}

/**
 * The images of `set` that decode, as a set of their own: every distinct image is decoded once (training's
 * decoder and pixel limit, as `juxta data check` does) and an unreadable one is added to `log` with the file
 * and line it was read from (fatal when the log is strict). Training runs this on its held-out set before
 * the first step, so a bad image is reported then and not at the first evaluation.
 */
export async function checkEvalImages(set: EvalSet, log: SkipLog): Promise<EvalSet> {
  const probes: Sample[] = set.images.map((im, i) => ({ image: im.ref, origin: originOf(set, i) }));
  const kept = new Set(await decodeCheck(probes, log));
  const unreadable = new Set<number>();
  for (const [i, p] of probes.entries()) if (!kept.has(p)) unreadable.add(i);
  return withoutImages(set, unreadable);
}

/**
 * A held-out set for evaluations during training: read and every image decoded up front
 * (`checkEvalImages`), so a bad image is skipped and counted (or fatal when `strict`) before the first
 * step; the skips are written to `stream` as the training set's are.
 */
export async function loadHeldOutSet(
  path: string,
  opts: { dataset?: DatasetOptions; strict?: boolean; stream?: { write(s: string): unknown } },
): Promise<EvalSet> {
  const log = new SkipLog(opts.strict ?? false);
  const set = await checkEvalImages(await loadEvalSet(path, { dataset: opts.dataset, log }), log);
  if (log.total > 0) opts.stream?.write(`${path}: ${log.summary()}\n`);
  if (set.images.length === 0) throw new UserError(`${path}: no image of the held-out set could be read`);
  return set;
}

function originOf(set: EvalSet, i: number): Location {
  return set.origins?.[i] ?? { file: (set.images[i] as ImageItem).id };
}

/**
 * `set` without the images in `drop` (indices into its images), counted as skipped: their samples go, and
 * a caption that described only them goes too (it has nothing left to retrieve).
 */
export function withoutImages(set: EvalSet, drop: ReadonlySet<number>): EvalSet {
  if (drop.size === 0) return set;
  const newIndex = new Map<number, number>();
  const pick = <T>(xs: readonly T[] | undefined) => xs?.filter((_, i) => !drop.has(i));
  set.images.forEach((_, i) => {
    if (!drop.has(i)) newIndex.set(i, newIndex.size);
  });
  const texts: string[] = [];
  const textToImages: number[][] = [];
  set.texts.forEach((text, t) => {
    const matches = (set.textToImages[t] ?? []).flatMap((i) => newIndex.get(i) ?? []);
    if (matches.length === 0) return;
    texts.push(text);
    textToImages.push(matches);
  });
  const rows = pick(set.rows);
  return {
    path: set.path,
    samples: rows ? rows.reduce((a, b) => a + b, 0) : set.samples - drop.size,
    images: pick(set.images) as ImageItem[],
    texts,
    textToImages,
    origins: pick(set.origins),
    rows,
    skipped: (set.skipped ?? 0) + drop.size,
  };
}

/**
 * Embed the images of `set`, skipping (and logging) the unreadable ones: the embeddings and the set
 * without them. None readable is an error.
 */
async function embedReadable(
  embedder: ModelHandle,
  set: EvalSet,
  log: SkipLog,
  label: string,
): Promise<{ set: EvalSet; embeds: Float32Array }> {
  const r = await embedder.embedImagesSkipping(
    set.images.map((im) => im.ref),
    label,
  );
  for (const s of r.skipped) log.add(originOf(set, s.index), s.reason);
  if (r.kept.length === 0)
    throw new UserError(
      `${set.path}: no image of ${set.images.length} could be read (first: ${r.skipped[0]?.reason})`,
    );
  return { set: withoutImages(set, new Set(r.skipped.map((s) => s.index))), embeds: r.embeds };
}

/** What evaluation takes: an opened model, or a CLIP in memory (e.g. during training) with its tokenizer. */
export type ClipLike = Extract<HandleModel, { tokenizer: unknown }>;

/**
 * Evaluate a model with a text tower on `data` (a path any reader opens, or a set loaded once with
 * `loadEvalSet`).
 */
export async function evaluateClip(
  model: ModelHandle | ClipLike,
  data: string | EvalSet,
  opts: EvalOptions = {},
): Promise<EvalResult> {
  const log = opts.log ?? new SkipLog();
  const read = typeof data === "string" ? await loadEvalSet(data, { ...opts, log }) : data;
  const train =
    typeof opts.knnTrain === "string"
      ? await loadEvalSet(opts.knnTrain, { dataset: opts.dataset, log, split: "train" })
      : opts.knnTrain;
  const templates = opts.templates ?? resolveTemplates();
  return withHandle(model, { progress: opts.progress }, async (embedder) => {
    if (!embedder.hasText)
      throw embedder.noTextTower("its evaluation is kNN and a linear probe (evaluateImageEncoder)");
    const dim = embedder.dim;
    // An unreadable image is skipped and counted (file, line, reason), fatal with a strict log.
    const { set, embeds } = await embedReadable(embedder, read, log, "embed images");
    const imageEmb = normalizedRows(embeds, dim, "image");
    const labelled = set.images.filter((im) => im.label !== undefined);
    const result: Omit<EvalResult, "counts"> = {};
    if (set.texts.length > 0) {
      const textEmb = normalizedRows(await embedder.embedTexts(set.texts, "embed texts"), dim, "text");
      Object.assign(result, retrievalRecall(imageEmb, textEmb, dim, set.textToImages, opts.ks ?? [1, 5, 10]));
    }
    if (labelled.length > 0) {
      const { emb: labelledEmb, labels } = labelledRows(set, imageEmb, dim);
      const classes = [...new Set(labels)];
      const classEmb = await classEmbeddings(classes.map(promptName), templates, (t) =>
        embedder.embedTexts(t, "embed prompts"),
      );
      result.zero_shot = zeroShotAccuracy(labelledEmb, labels, classes, classEmb);
      if (train) Object.assign(result, await probes(embedder, train, labelledEmb, labels, { ...opts, log }));
    } else if (train)
      throw new UserError(
        `${set.path}: no image has a label, so kNN and linear-probe accuracy cannot be measured`,
      );
    const { samples, images, texts } = set;
    return {
      ...result,
      counts: {
        samples,
        images: images.length,
        texts: texts.length,
        labelled: labelled.length,
        skipped: set.skipped ?? 0,
      },
    };
  });
}

/** The embeddings and labels of the labelled images only. */
function labelledRows(set: EvalSet, emb: Float32Array, dim: number): { emb: Float32Array; labels: string[] } {
  const labels: string[] = [];
  const out = new Float32Array(set.images.filter((im) => im.label !== undefined).length * dim);
  set.images.forEach((im, i) => {
    if (im.label === undefined) return;
    out.set(emb.subarray(i * dim, (i + 1) * dim), labels.length * dim);
    labels.push(im.label);
  });
  return { emb: out, labels };
}

/** kNN and linear probe: classifiers fitted on the training set's image features, tested on ours. */
async function probes(
  embedder: ModelHandle,
  train: EvalSet,
  testEmb: Float32Array,
  testLabels: string[],
  opts: EvalOptions & { log: SkipLog },
): Promise<Pick<EvalResult, "knn" | "linear_probe">> {
  const dim = embedder.dim;
  const unlabelled = new Set<number>();
  train.images.forEach((im, i) => {
    if (im.label === undefined) unlabelled.add(i);
  });
  if (unlabelled.size === train.images.length)
    throw new UserError(`${train.path}: no image has a label; --knn-train needs a labelled set`);
  const readable = await embedReadable(
    embedder,
    { ...withoutImages(train, unlabelled), skipped: 0 },
    opts.log,
    "embed kNN set",
  );
  const trainImages = readable.set.images;
  const trainEmb = normalizedRows(readable.embeds, dim, "training image");
  // Class indices over both sets: a test class absent from training simply can never be predicted.
  const index = new Map<string, number>();
  const classOf = (label: string) => {
    let c = index.get(label);
    if (c === undefined) index.set(label, (c = index.size));
    return c;
  };
  const trainY = Int32Array.from(trainImages, (im) => classOf(im.label as string));
  const testY = Int32Array.from(testLabels, classOf);
  const knn = await knnAccuracy(trainEmb, trainY, testEmb, testY, dim, { k: 200, t: 0.1, ...opts.knn });
  const out: Pick<EvalResult, "knn" | "linear_probe"> = { knn: { top1: knn.top1, top5: knn.top5 } };
  if (opts.linearProbe !== false) {
    const probe = await linearProbe(trainEmb, trainY, testEmb, testY, dim, opts.linearProbe || {});
    out.linear_probe = { top1: probe.top1, top5: probe.top5 };
  }
  return out;
}

/** The result as flat `name: value` pairs (`image_to_text/R@1`, `zero_shot/top1`, …) for logs and charts. */
export function evalValues(result: EvalResult): Record<string, number> {
  const values: Record<string, number> = {};
  for (const key of ["image_to_text", "text_to_image", "zero_shot", "knn", "linear_probe"] as const) {
    const part = result[key] as Record<string, number> | undefined;
    if (!part) continue;
    for (const [name, v] of Object.entries(part)) if (name !== "classes") values[`${key}/${name}`] = v;
  }
  return values;
}
