/**
 * Weighted k-nearest-neighbour classification on frozen features, as in InstDisc (Wu et al. 2018) and
 * lightly's knn_predict: the k most similar training vectors vote for their class with weight exp(sim/t),
 * class scores are the summed votes. Similarity is the dot product (cosine for L2-normalized features).
 * Neighbours tied in similarity are taken in training order; a class tied with the true one ranks ahead of
 * it (pessimistic), so a true class with no votes never counts as a hit.
 */
import { pessimisticRank, rowCount, scoreBlock, TopK } from "../search/kernels.js";
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

/** Test rows scored at once against the whole training set. */
const QUERY_BLOCK = 32;

/** Top-1/top-5 accuracy (fractions) of test features labelled with integer classes 0..C−1. */
export function knnAccuracy(
  trainEmb: Float32Array,
  trainLabels: ArrayLike<number>,
  testEmb: Float32Array,
  testLabels: ArrayLike<number>,
  dim: number,
  opts: KnnOptions = {},
): KnnResult {
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

  const sims = new Float32Array(Math.min(QUERY_BLOCK, nTest) * nTrain);
  const votes = new Float64Array(classes);
  const heap = new TopK(k);
  let top1 = 0;
  let top5 = 0;
  for (let q0 = 0; q0 < nTest; q0 += QUERY_BLOCK) {
    const rows = Math.min(QUERY_BLOCK, nTest - q0);
    scoreBlock(testEmb, q0, rows, trainEmb, nTrain, dim, sims);
    for (let r = 0; r < rows; r++) {
      heap.clear();
      const o = r * nTrain;
      for (let j = 0; j < nTrain; j++) {
        const s = sims[o + j] as number;
        if (s > heap.threshold) heap.push(s, j);
      }
      votes.fill(0);
      // Shifting by the best similarity scales every vote alike (same ranking) and keeps exp finite.
      let best = Number.NEGATIVE_INFINITY;
      for (let h = 0; h < heap.size; h++) best = Math.max(best, heap.scores[h] as number);
      for (let h = 0; h < heap.size; h++)
        votes[trainLabels[heap.indices[h] as number] as number]! += Math.exp(
          ((heap.scores[h] as number) - best) / t,
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
