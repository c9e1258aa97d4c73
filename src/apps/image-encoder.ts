/**
 * The application commands on image-only encoders (juxta train --method simclr|moco|supcon|triplet): they
 * have no text tower, so evaluation is kNN and a linear probe on the backbone's features, and embedding
 * writes those features (the representation the probes score, before the projection head).
 */
import { existsSync, statSync } from "node:fs";
import type { DatasetOptions } from "../data/options.js";
import { preprocessImages } from "../image/preprocess.js";
import { evaluateImageEncoder, type ImageEvalResult } from "../methods/evaluate.js";
import { ImageFeatureEncoder, type LoadedImageEncoder } from "../models/image-encoder.js";
import { UserError } from "../util/errors.js";
import { Progress, type ProgressStream } from "../util/progress.js";
import { type Embeddings, type EmbedInputs, readPixels } from "./embed.js";
import { listImages } from "./images.js";

/** Images decoded and encoded at once: bounds memory for large folders. */
const CHUNK = 256;

/**
 * kNN and linear-probe accuracy of a saved image encoder. Without `knnTrain`, `data` must be a folder
 * holding train and test splits: fitting and scoring on the same images would measure memorization.
 */
export async function evaluateImageModel(
  dir: string,
  data: string,
  opts: { knnTrain?: string; dataset?: DatasetOptions } = {},
): Promise<ImageEvalResult> {
  if (opts.knnTrain === undefined && !(existsSync(data) && statSync(data).isDirectory()))
    throw new UserError(
      `${dir} is an image encoder: its evaluation is kNN and a linear probe, which need labelled training images; give --knn-train FILE, or a --data folder holding train and test splits`,
    );
  return evaluateImageEncoder(dir, { data, knnTrain: opts.knnTrain, dataset: opts.dataset });
}

export function formatImageEval(r: ImageEvalResult, title?: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return [
    `${title ? `${title}: ` : ""}${r.testSamples} test images, ${r.trainSamples} training images, ${r.classes.length} classes, ${r.featureDim}-d backbone features`,
    `  kNN           top1 ${pct(r.knn.top1).padEnd(6)}  top5 ${pct(r.knn.top5)}`,
    `  linear probe  top1 ${pct(r.linear_probe.top1).padEnd(6)}  top5 ${pct(r.linear_probe.top5)}  (train top1 ${pct(r.linear_probe.trainTop1)})`,
    `  chance        ${pct(r.chance)} (the test set's largest class)`,
  ].join("\n");
}

/** Backbone features [n, featureDim] of images (a folder, list or data set) or of preprocessed pixels. */
export async function embedImageFeatures(
  loaded: LoadedImageEncoder,
  inputs: EmbedInputs,
  opts: { progress?: ProgressStream } = {},
): Promise<Embeddings> {
  if (inputs.texts !== undefined)
    throw new UserError(`${loaded.dir} is an image encoder (no text tower); it cannot embed --texts`);
  if (inputs.images !== undefined && inputs.pixels !== undefined)
    throw new UserError("give images either as --images or as --pixels, not both");
  if (inputs.images === undefined && inputs.pixels === undefined)
    throw new UserError("nothing to embed: give --images FILE|DIR or --pixels FILE.safetensors");
  const { imageSize: size, mean, std } = loaded.preprocess;
  const pixels = inputs.pixels === undefined ? undefined : readPixels(inputs.pixels, size);
  const images =
    inputs.images === undefined
      ? undefined
      : await listImages(inputs.images, { dataset: inputs.dataset, log: inputs.log });
  const encoder = await ImageFeatureEncoder.create(loaded.model, { chunk: CHUNK });
  try {
    const dim = encoder.featureDim;
    if (pixels)
      return {
        dim,
        image: {
          embeds: await encoder.encode(pixels.data),
          ids: Array.from({ length: pixels.n }, (_, i) => `pixel_values[${i}]`),
        },
      };
    const items = images ?? [];
    const out = new Float32Array(items.length * dim);
    const bar =
      opts.progress && items.length >= CHUNK
        ? new Progress({ label: "embed images", total: items.length, unit: "images", stream: opts.progress })
        : undefined;
    for (let start = 0; start < items.length; start += CHUNK) {
      const part = items.slice(start, start + CHUNK);
      const px = await preprocessImages(
        part.map((im) => im.ref),
        { size, mean, std },
      );
      out.set(await encoder.encode(px), start * dim);
      bar?.tick(part.length);
    }
    bar?.done();
    return { dim, image: { embeds: out, ids: items.map((im) => im.id) } };
  } finally {
    await encoder.release();
  }
}
