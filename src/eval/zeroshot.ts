/**
 * Zero-shot accuracy: an image is assigned the class whose embedding (pipelines/templates.ts:
 * `classEmbeddings`) scores highest. Accuracy counts ties pessimistically (a tied wrong class ranks ahead).
 */

import { checkClasses } from "../pipelines/templates.js";
import { dot, pessimisticRank, rowCount } from "../search/kernels.js";
import { UserError } from "../util/errors.js";

export interface ZeroShotResult {
  top1: number;
  top5: number;
  /** Candidate classes (including those with no image). */
  classes: number;
}

/**
 * Top-1/top-5 accuracy (fractions) of images whose true class names are `labels`, against every class in
 * `classes` (embedded in `classEmb`, row per class, same order).
 */
export function zeroShotAccuracy(
  imageEmb: Float32Array,
  labels: readonly string[],
  classes: readonly string[],
  classEmb: Float32Array,
): ZeroShotResult {
  checkClasses(classes);
  if (classEmb.length === 0 || classEmb.length % classes.length !== 0)
    throw new UserError(`zero-shot: ${classEmb.length} class-embedding values for ${classes.length} classes`);
  const dim = classEmb.length / classes.length;
  const n = rowCount(imageEmb, dim, "zero-shot: image embeddings");
  if (labels.length !== n)
    throw new UserError(`zero-shot: ${n} image embeddings but ${labels.length} labels`);
  if (n === 0) throw new UserError("zero-shot: no images to classify");
  const index = new Map(classes.map((c, i) => [c, i]));
  const scores = new Float64Array(classes.length);
  let top1 = 0;
  let top5 = 0;
  labels.forEach((label, i) => {
    const truth = index.get(label);
    if (truth === undefined)
      throw new UserError(`zero-shot: image ${i} has label '${label}', not among the classes`);
    for (let c = 0; c < classes.length; c++) scores[c] = dot(imageEmb, i * dim, classEmb, c * dim, dim);
    const rank = pessimisticRank(scores, 0, classes.length, truth);
    if (rank < 1) top1++;
    if (rank < 5) top5++;
  });
  return { top1: top1 / n, top5: top5 / n, classes: classes.length };
}
