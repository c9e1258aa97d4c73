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
import { preprocessImages } from "../image/preprocess.js";
import { ImageFeatureEncoder } from "../models/image-encoder.js";
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
}

export async function evaluateImageEncoder(dir: string, opts: ImageEvalOptions): Promise<ImageEvalResult> {
  const { model, preprocess } = loadImageEncoder(dir);
  const base = opts.dataset ?? {};
  const trainRows = await readLabelled(
    opts.knnTrain ?? opts.data,
    opts.knnTrain ? base : { ...base, split: "train" },
  );
  const testRows = await readLabelled(opts.data, opts.knnTrain ? base : { ...base, split: "test" });
  const classes = [...new Set([...trainRows, ...testRows].map((s) => s.label as string))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const labelsOf = (rows: Sample[]) => Int32Array.from(rows, (s) => index.get(s.label as string) as number);

  const encoder = await ImageFeatureEncoder.create(model, { session: opts.session });
  const pre = { size: preprocess.imageSize, mean: preprocess.mean, std: preprocess.std };
  let trainX: Float32Array;
  let testX: Float32Array;
  try {
    trainX = await encoder.encode(
      await preprocessImages(
        trainRows.map((s) => s.image),
        pre,
      ),
    );
    testX = await encoder.encode(
      await preprocessImages(
        testRows.map((s) => s.image),
        pre,
      ),
    );
  } finally {
    await encoder.release();
  }
  const dim = encoder.featureDim;
  const trainY = labelsOf(trainRows);
  const testY = labelsOf(testRows);
  const knn = knnAccuracy(
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
  };
}

async function readLabelled(path: string, options: DatasetOptions): Promise<Sample[]> {
  const log = new SkipLog(true);
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
