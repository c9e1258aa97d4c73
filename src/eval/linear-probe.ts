/**
 * Linear probe: multinomial logistic regression on frozen features, trained with Juxta's own engine (a
 * compiled Linear + cross-entropy step and AdamW with decoupled weight decay, cosine-decayed learning
 * rate). Features are standardized with the training set's mean and standard deviation. Minibatches are
 * drawn by a seeded shuffle and ONNX Runtime runs on a fixed thread count, so a run is reproducible.
 * Test accuracy is computed here in plain TypeScript; ties count pessimistically.
 */
import { Rng } from "../engine/random.js";
import { crossEntropy, Linear } from "../nn/index.js";
import { TrainStep } from "../nn/train-step.js";
import { AdamW, warmupCosine } from "../optim/index.js";
import { dot, pessimisticRank, rowCount } from "../search/kernels.js";
import { UserError } from "../util/errors.js";
import { classCount } from "./knn.js";

export interface LinearProbeOptions {
  /** Passes over the training set (default 100). */
  epochs?: number;
  /** Peak AdamW learning rate, cosine-decayed to 0 (default 0.01). */
  lr?: number;
  /** AdamW decoupled weight decay on the weight matrix, not the bias (default 1e-4). */
  weightDecay?: number;
  /** Minibatch size (default 1024; the whole set when smaller). Leftover rows sit out an epoch. */
  batchSize?: number;
  /** Seeds the initialization and the shuffles (default 0). */
  seed?: number;
  /** ONNX Runtime threads (default 1, so results do not depend on the machine's core count). */
  threads?: number;
}

export interface LinearProbeResult {
  /** Test accuracy (fraction). */
  top1: number;
  top5: number;
  /** Accuracy on the training features, to tell underfitting from overfitting. */
  trainTop1: number;
  /** Mean cross-entropy over the last epoch's minibatches. */
  loss: number;
}

export async function linearProbe(
  trainX: Float32Array,
  trainY: ArrayLike<number>,
  testX: Float32Array,
  testY: ArrayLike<number>,
  dim: number,
  opts: LinearProbeOptions = {},
): Promise<LinearProbeResult> {
  const n = rowCount(trainX, dim, "linear probe: training features");
  const nTest = rowCount(testX, dim, "linear probe: test features");
  if (trainY.length !== n)
    throw new UserError(`linear probe: ${n} training features, ${trainY.length} labels`);
  if (testY.length !== nTest)
    throw new UserError(`linear probe: ${nTest} test features, ${testY.length} labels`);
  if (n === 0 || nTest === 0) throw new UserError("linear probe: needs training and test features");
  const classes = Math.max(2, classCount(trainY, testY));
  const epochs = opts.epochs ?? 100;
  const batch = Math.min(n, opts.batchSize ?? 1024);
  const lr = opts.lr ?? 0.01;
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new UserError(`linear probe: epochs must be ≥ 1, got ${epochs}`);
  if (!Number.isInteger(batch) || batch < 1) throw new UserError(`linear probe: batch size must be ≥ 1`);

  const { mean, scale } = standardization(trainX, n, dim);
  const x = standardize(trainX, mean, scale);
  const xTest = standardize(testX, mean, scale);

  const model = new Linear(dim, classes).initialize(opts.seed ?? 0);
  const step = await TrainStep.create({
    model,
    inputs: { x: { shape: [batch, dim] }, y: { shape: [batch], dtype: "int64" } },
    loss: ({ x, y }) => ({ loss: crossEntropy(model.forward(x!), y!) }),
    session: { threads: opts.threads ?? 1 },
  });
  const opt = new AdamW(step.params, { weightDecay: opts.weightDecay ?? 1e-4 });
  const rng = new Rng(opts.seed ?? 0);
  const order = Array.from({ length: n }, (_, i) => i);
  // Every minibatch is full (the step is compiled for one batch shape); the rows left over after the last
  // full batch sit out that epoch, a different few each time since every epoch is reshuffled.
  const stepsPerEpoch = Math.floor(n / batch);
  const total = epochs * stepsPerEpoch;
  const bx = new Float32Array(batch * dim);
  const by = new BigInt64Array(batch);
  let loss = 0;
  try {
    for (let e = 0; e < epochs; e++) {
      rng.shuffle(order);
      let sum = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        for (let r = 0; r < batch; r++) {
          const i = order[b * batch + r] as number;
          bx.set(x.subarray(i * dim, (i + 1) * dim), r * dim);
          by[r] = BigInt(trainY[i] as number);
        }
        const s = e * stepsPerEpoch + b;
        const out = await step.run({ x: bx, y: by }, s);
        opt.update(out.grads, warmupCosine(s, { lr, warmup: 0, total }));
        sum += out.loss;
      }
      loss = sum / stepsPerEpoch;
    }
  } finally {
    await step.release();
  }
  const w = model.weight.data;
  const bias = model.bias!.data;
  const train = accuracy(x, trainY, w, bias, dim, classes);
  const test = accuracy(xTest, testY, w, bias, dim, classes);
  return { top1: test.top1, top5: test.top5, trainTop1: train.top1, loss };
}

/** Per-feature mean and 1/std of the training rows (1 where a feature is constant). */
function standardization(
  x: Float32Array,
  n: number,
  dim: number,
): { mean: Float64Array; scale: Float64Array } {
  const mean = new Float64Array(dim);
  const scale = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j]! += x[i * dim + j] as number;
  for (let j = 0; j < dim; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < dim; j++) scale[j]! += ((x[i * dim + j] as number) - (mean[j] as number)) ** 2;
  for (let j = 0; j < dim; j++) {
    const std = Math.sqrt((scale[j] as number) / n);
    scale[j] = std > 1e-12 ? 1 / std : 1;
  }
  return { mean, scale };
}

function standardize(x: Float32Array, mean: Float64Array, scale: Float64Array): Float32Array {
  const dim = mean.length;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++)
    out[i] = ((x[i] as number) - (mean[i % dim] as number)) * (scale[i % dim] as number);
  return out;
}

function accuracy(
  x: Float32Array,
  y: ArrayLike<number>,
  w: Float32Array,
  bias: Float32Array,
  dim: number,
  classes: number,
): { top1: number; top5: number } {
  const n = x.length / dim;
  const logits = new Float64Array(classes);
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) logits[c] = dot(x, i * dim, w, c * dim, dim) + (bias[c] as number);
    const rank = pessimisticRank(logits, 0, classes, y[i] as number);
    if (rank < 1) top1++;
    if (rank < 5) top5++;
  }
  return { top1: top1 / n, top5: top5 / n };
}
