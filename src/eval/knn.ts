/**
 * Weighted k-nearest-neighbour classification on frozen features, as in InstDisc (Wu et al. 2018) and
 * lightly's knn_predict: the k most similar training vectors vote for their class with weight exp(sim/t),
 * class scores are the summed votes. Similarity is the dot product (cosine for L2-normalized features).
 * Neighbours tied in similarity are taken in training order; a class tied with the true one ranks ahead of
 * it (pessimistic), so a true class with no votes never counts as a hit. The neighbours come from the
 * search layer's engine scan (one product and a TopK on ONNX Runtime): 10,000 test × 60,000 training
 * 128-d features take seconds, where a JavaScript loop took 100 s. Similarities are float32 products, so
 * two neighbours a rounding error apart may swap (exact ties keep training order).
 */
import { engineTopK } from "../search/engine-scan.js";
import { pessimisticRank, rowCount } from "../search/kernels.js";
import { UserError } from "../util/errors.js";

export interface KnnOptions {
  /** Neighbours that vote (default 200; fewer when the training set is smaller). */
  k?: number;
  /** Temperature of the vote weights exp(sim/t) (default 0.1). */
  t?: number;
}

export interface KnnResult {
  top1: number;
  top5: number;
}

/** Test rows scored at once against the whole training set (their scores: 256 × a scan chunk). */
const QUERY_BLOCK = 256;

/** Top-1/top-5 accuracy (fractions) of test features labelled with integer classes 0..C−1. */
export async function knnAccuracy(
  trainEmb: Float32Array,
  trainLabels: ArrayLike<number>,
  testEmb: Float32Array,
  testLabels: ArrayLike<number>,
  dim: number,
  opts: KnnOptions = {},
): Promise<KnnResult> {
  const nTrain = rowCount(trainEmb, dim, "kNN: training features");
  const nTest = rowCount(testEmb, dim, "kNN: test features");
  if (trainLabels.length !== nTrain)
    throw new UserError(`kNN: ${nTrain} training features, ${trainLabels.length} labels`);
  if (testLabels.length !== nTest)
    throw new UserError(`kNN: ${nTest} test features, ${testLabels.length} labels`);
  if (nTrain === 0 || nTest === 0)
    throw new UserError("kNN: needs at least one training and one test feature");
  const classes = classCount(trainLabels, testLabels);
  const k = Math.min(opts.k ?? 200, nTrain);
  const t = opts.t ?? 0.1;
  if (!Number.isInteger(k) || k < 1) throw new UserError(`kNN: k must be a positive integer, got ${opts.k}`);
  if (!(t > 0)) throw new UserError(`kNN: temperature must be positive, got ${t}`);

  const votes = new Float64Array(classes);
  let top1 = 0;
  let top5 = 0;
  for (let q0 = 0; q0 < nTest; q0 += QUERY_BLOCK) {
    const rows = Math.min(QUERY_BLOCK, nTest - q0);
    const near = await engineTopK(testEmb.subarray(q0 * dim, (q0 + rows) * dim), trainEmb, nTrain, dim, k);
    for (let r = 0; r < rows; r++) {
      votes.fill(0);
      // Best first: shifting by the best similarity scales every vote alike (same ranking), keeps exp finite.
      const o = r * near.k;
      const best = near.scores[o] as number;
      for (let h = 0; h < near.k; h++)
        votes[trainLabels[Number(near.rows[o + h])] as number]! += Math.exp(
          ((near.scores[o + h] as number) - best) / t,
        );
      const rank = pessimisticRank(votes, 0, classes, testLabels[q0 + r] as number);
      if (rank < 1) top1++;
      if (rank < 5) top5++;
    }
  }
  return { top1: top1 / nTest, top5: top5 / nTest };
}

/** Number of classes (largest label + 1), checking that every label is a non-negative integer. */
export function classCount(...labelSets: ArrayLike<number>[]): number {
  let max = -1;
  for (const labels of labelSets)
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i] as number;
      if (!Number.isInteger(y) || y < 0)
        throw new UserError(`label ${i} is ${y}, expected a class index ≥ 0`);
      max = Math.max(max, y);
    }
  return max + 1;
}
