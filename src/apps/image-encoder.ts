/**
 * Evaluation of image-only encoders (juxta train --method simclr|moco|supcon|triplet): they have no text
 * tower, so it is kNN and a linear probe on the backbone's features. (Embedding, indexing and search go
 * through the model handle as for every family.)
 */
import { existsSync, statSync } from "node:fs";
import type { DatasetOptions } from "../data/options.js";
import type { SkipLog } from "../data/types.js";
import { evaluateImageEncoder, type ImageEvalResult } from "../eval/image-encoder.js";
import { UserError } from "../util/errors.js";

/**
 * kNN and linear-probe accuracy of a saved image encoder. Without `knnTrain`, `data` must be a folder
 * holding train and test splits: fitting and scoring on the same images would measure memorization.
 */
export async function evaluateImageModel(
  dir: string,
  data: string,
  opts: { knnTrain?: string; dataset?: DatasetOptions; log?: SkipLog } = {},
): Promise<ImageEvalResult> {
  if (opts.knnTrain === undefined && !(existsSync(data) && statSync(data).isDirectory()))
    throw new UserError(
      `${dir} is an image encoder: its evaluation is kNN and a linear probe, which need labelled training images; give --knn-train FILE, or a --data folder holding train and test splits`,
    );
  return evaluateImageEncoder(dir, { data, knnTrain: opts.knnTrain, dataset: opts.dataset, log: opts.log });
}

export function formatImageEval(r: ImageEvalResult, title?: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return [
    `${title ? `${title}: ` : ""}${r.testSamples} test images, ${r.trainSamples} training images, ${r.classes.length} classes, ${r.featureDim}-d backbone features` +
      (r.skipped > 0 ? ` (${r.skipped} unreadable image${r.skipped === 1 ? "" : "s"} skipped)` : ""),
    `  kNN           top1 ${pct(r.knn.top1).padEnd(6)}  top5 ${pct(r.knn.top5)}`,
    `  linear probe  top1 ${pct(r.linear_probe.top1).padEnd(6)}  top5 ${pct(r.linear_probe.top5)}  (train top1 ${pct(r.linear_probe.trainTop1)})`,
    `  chance        ${pct(r.chance)} (the test set's largest class)`,
  ].join("\n");
}
