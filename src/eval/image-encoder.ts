/**
 * Evaluating an image-only encoder by how well its frozen backbone features separate labelled classes:
 * weighted kNN (cosine, on L2-normalized features) and a linear probe (logistic regression on standardized
 * features), both trained on one labelled set and scored on another. Images get the model's evaluation
 * preprocessing (resize, centre crop, normalize). Chance level is reported as the majority class's share of
 * the test set.
 */
import { openDataset } from "../data/open.js";
import type { DatasetOptions } from "../data/options.js";
import { type Sample, SkipLog } from "../data/types.js";
import type { SessionOptions } from "../engine/index.js";
import { ModelHandle } from "../handle/model.js";
import { loadImageEncoder } from "../models/saved.js";
import { formatLocation, UserError } from "../util/errors.js";
import { type KnnOptions, knnAccuracy } from "./knn.js";
import { type LinearProbeOptions, linearProbe } from "./linear-probe.js";

export interface ImageEvalOptions {
  /** Labelled test images (a folder holding train and test manifests works: its test split is used). */
  data: string;
  /** Labelled reference images for kNN and the probe's training (default: the train split of `data`). */
  knnTrain?: string;
  dataset?: DatasetOptions;
  knn?: KnnOptions;
  linearProbe?: LinearProbeOptions;
  session?: SessionOptions;
  /** Where skipped rows and unreadable images are counted (default: a fresh log; a strict one stops). */
  log?: SkipLog;
}

export interface ImageEvalResult {
  knn: { top1: number; top5: number };
  linear_probe: { top1: number; top5: number; trainTop1: number };
  /** Majority class share of the test set. */
  chance: number;
  classes: string[];
  trainSamples: number;
  testSamples: number;
  featureDim: number;
  /** Images skipped as unreadable (training and test sets together; not counted in the samples). */
  skipped: number;
}

export async function evaluateImageEncoder(dir: string, opts: ImageEvalOptions): Promise<ImageEvalResult> {
  const { model, preprocess } = loadImageEncoder(dir);
  const base = opts.dataset ?? {};
  const log = opts.log ?? new SkipLog();
  let trainRows = await readLabelled(
    opts.knnTrain ?? opts.data,
    opts.knnTrain ? base : { ...base, split: "train" },
    log,
  );
  let testRows = await readLabelled(opts.data, opts.knnTrain ? base : { ...base, split: "test" }, log);
  const classes = [...new Set([...trainRows, ...testRows].map((s) => s.label as string))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const labelsOf = (rows: Sample[]) => Int32Array.from(rows, (s) => index.get(s.label as string) as number);

  // An unreadable image is skipped and counted (file, line, reason), fatal with a strict log.
  const handle = new ModelHandle({ model, preprocess }, { session: opts.session });
  let train: Readable;
  let test: Readable;
  try {
    train = await embedReadable(handle, trainRows, log, "embed kNN set");
    test = await embedReadable(handle, testRows, log, "embed images");
  } finally {
    await handle.dispose();
  }
  trainRows = train.rows;
  testRows = test.rows;
  const trainX = train.embeds;
  const testX = test.embeds;
  const dim = handle.dim;
  const trainY = labelsOf(trainRows);
  const testY = labelsOf(testRows);
  const knn = await knnAccuracy(
    normalizeRows(trainX, dim),
    trainY,
    normalizeRows(testX, dim),
    testY,
    dim,
    opts.knn,
  );
  const probe = await linearProbe(trainX, trainY, testX, testY, dim, opts.linearProbe);
  const counts = new Map<number, number>();
  for (const y of testY) counts.set(y, (counts.get(y) ?? 0) + 1);
  return {
    knn,
    linear_probe: { top1: probe.top1, top5: probe.top5, trainTop1: probe.trainTop1 },
    chance: Math.max(...counts.values()) / testY.length,
    classes,
    trainSamples: trainRows.length,
    testSamples: testRows.length,
    featureDim: dim,
    skipped: train.skipped + test.skipped,
  };
}

interface Readable {
  rows: Sample[];
  embeds: Float32Array;
  skipped: number;
}

/** Backbone features of the rows whose image decodes; the others go to `log`. None readable is an error. */
async function embedReadable(
  handle: ModelHandle,
  rows: Sample[],
  log: SkipLog,
  label: string,
): Promise<Readable> {
  const r = await handle.embedImagesSkipping(
    rows.map((s) => s.image),
    label,
  );
  for (const s of r.skipped) log.add(rows[s.index]!.origin, s.reason);
  if (r.kept.length === 0)
    throw new UserError(`no image of ${rows.length} could be read (first: ${r.skipped[0]?.reason})`);
  return { rows: r.kept.map((i) => rows[i]!), embeds: r.embeds, skipped: r.skipped.length };
}

async function readLabelled(path: string, options: DatasetOptions, log: SkipLog): Promise<Sample[]> {
  const rows = await openDataset(path, options, log);
  if (rows.length === 0) throw new UserError(`${path}: no images to evaluate on`);
  const missing = rows.find((s) => s.label === undefined || s.label === "");
  if (missing)
    throw new UserError(
      `${formatLocation(missing.origin) || path}: no label; evaluation needs labelled images`,
    );
  return rows;
}

function normalizeRows(x: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += dim) {
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += (x[i + j] as number) ** 2;
    const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
    for (let j = 0; j < dim; j++) out[i + j] = (x[i + j] as number) * inv;
  }
  return out;
}
