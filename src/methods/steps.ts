/**
 * Compiled training steps of the image-only methods, each one ONNX model holding the encoder's forward
 * pass on both views, the loss, its gradients and the metrics a run logs:
 *
 *   simclr   NT-Xent between the projections of two views (Chen et al. 2020)
 *   moco     MoCo v2: query encoder on view 1, key encoder (momentum copy, no gradient) on view 2, InfoNCE
 *            against a queue of earlier keys (He et al. 2020; Chen et al. 2020)
 *   supcon   supervised contrastive loss over both views, positives = same label (Khosla et al. 2020)
 *   triplet  triplet margin loss over both views with a miner, positives = same label
 *
 * Batches are view-major ([2N, 3, S, S]: rows 0…N−1 are view 1), as the Loader yields them; labels are
 * int64 class ids [N].
 */
import { constant, input, type SessionOptions, type Tensor } from "../engine/index.js";
import {
  mocoLoss,
  ntxentLoss,
  type Queue,
  type Similarity,
  supConLoss,
  type TripletMiner,
  tripletMarginLoss,
} from "../losses/index.js";
import type { ImageEncoder } from "../models/image-encoder.js";
import type { Parameter } from "../nn/module.js";
import { emaUpdate } from "../optim/index.js";
import { type StepResult, TrainStep } from "../train/step.js";
import { UserError } from "../util/errors.js";

export const IMAGE_METHODS = ["simclr", "moco", "supcon", "triplet"] as const;
export type ImageMethod = (typeof IMAGE_METHODS)[number];

/** Methods that need a class label per sample. */
export const LABELLED_METHODS: readonly ImageMethod[] = ["supcon", "triplet"];

/** Default temperatures: SimCLR's 0.5, MoCo v2's 0.2, SupCon's 0.1 (the paper's CIFAR setting). */
export const DEFAULT_TEMPERATURE: Readonly<Record<ImageMethod, number>> = {
  simclr: 0.5,
  moco: 0.2,
  supcon: 0.1,
  triplet: 0,
};

export interface MethodStepOptions {
  /** Samples per batch (N); each contributes two views. */
  batch: number;
  temperature?: number;
  /** SimCLR's similarity (default cosine). */
  similarity?: Similarity;
  /** Triplet margin (default 0.2) and miner (default batch_hard, which stays at [2N, 2N]). */
  margin?: number;
  miner?: TripletMiner;
  /** MoCo: the key encoder (a momentum copy of the model), the key queue and the momentum. */
  moco?: { key: ImageEncoder; queue: Queue; momentum: number };
  session?: SessionOptions;
}

export interface MethodBatch {
  /** [2N, 3, S, S], view-major. */
  pixels: Float32Array;
  /** Class ids [N] (supcon, triplet). */
  labels?: BigInt64Array;
}

/** A method's compiled step plus what must happen around it (MoCo's queue and momentum update). */
export interface MethodStep {
  readonly method: ImageMethod;
  /** Trained parameters, aligned with `StepResult.grads`. */
  readonly params: Parameter[];
  run(batch: MethodBatch, step: number): Promise<StepResult>;
  /** Call after the optimizer has updated `params` (MoCo: key ← m·key + (1−m)·query). */
  afterUpdate(): void;
  release(): Promise<void>;
}

export async function createMethodStep(
  method: ImageMethod,
  model: ImageEncoder,
  opts: MethodStepOptions,
): Promise<MethodStep> {
  const n = opts.batch;
  const s = model.imageSize;
  const labelled = LABELLED_METHODS.includes(method);
  const temperature = opts.temperature ?? DEFAULT_TEMPERATURE[method];
  const moco = opts.moco;
  if (method === "moco" && !moco) throw new Error("createMethodStep: moco needs its key encoder and queue");
  // MoCo's key encoder enters the graph as plain inputs named key.*; it gets no gradient.
  const keyFeeds: [string, Float32Array][] = [];
  const step = await TrainStep.create({
    model,
    inputs: {
      images: { shape: [2 * n, 3, s, s] },
      ...(labelled ? { labels: { shape: [n], dtype: "int64" as const } } : {}),
      ...(moco ? { queue: { shape: [moco.queue.size, moco.queue.dim] } } : {}),
    },
    loss: (inputs): { loss: Tensor; metrics?: Record<string, Tensor> } => {
      const images = inputs.images as Tensor;
      if (method === "moco" && moco) {
        for (const p of moco.key.parameters("key")) {
          p.value = input(p.name, p.shape);
          keyFeeds.push([p.name, p.data]);
        }
        // Bound so BatchNorm can trace its running-statistics update; nothing reads it, so no input appears.
        for (const b of moco.key.buffers("key")) b.value = input(b.name, b.shape);
        const q = model.forward(images.slice(0, 0, n));
        const k = moco.key.forward(images.slice(0, n, 2 * n));
        const { loss, logits, keys } = mocoLoss(q, k, inputs.queue as Tensor, { temperature });
        return { loss, metrics: { accuracy: hitRate(logits, () => 0), keys } };
      }
      const z = model.forward(images);
      const d = z.shape[1] as number;
      if (method === "simclr") {
        const { loss, logits } = ntxentLoss(z.slice(0, 0, n), z.slice(0, n, 2 * n), {
          temperature,
          similarity: opts.similarity,
        });
        return { loss, metrics: { accuracy: hitRate(logits, (i) => (i + n) % (2 * n)) } };
      }
      const labels = inputs.labels as Tensor;
      if (method === "supcon") {
        const features = z.reshape([2, n, d]).transpose([1, 0, 2]);
        return { loss: supConLoss(features, labels, { temperature, baseTemperature: temperature }).loss };
      }
      const both = labels
        .unsqueeze(0)
        .expand([2, n])
        .reshape([2 * n]);
      const { loss, active } = tripletMarginLoss(z, both, {
        margin: opts.margin ?? 0.2,
        miner: opts.miner ?? "batch_hard",
      });
      return { loss, metrics: { active } };
    },
    session: opts.session,
  });
  const queryParams = step.params;
  return {
    method,
    params: step.params,
    async run(batch, index) {
      if (batch.pixels.length !== 2 * n * 3 * s * s)
        throw new Error(
          `${method} step: expected ${2 * n} images of 3×${s}×${s}, got ${batch.pixels.length} values`,
        );
      const feeds: Record<string, Float32Array | BigInt64Array> = { images: batch.pixels };
      if (labelled) {
        if (!batch.labels) throw new UserError(`${method} needs a label for every sample`);
        feeds.labels = batch.labels;
      }
      if (moco) {
        feeds.queue = moco.queue.data as Float32Array;
        for (const [name, data] of keyFeeds) feeds[name] = data;
      }
      const r = await step.run(feeds, index);
      if (moco) {
        moco.queue.enqueue(r.metrics.keys as Float32Array);
        delete r.metrics.keys;
      }
      return r;
    },
    afterUpdate() {
      if (moco) emaUpdate(moco.key.parameters(), queryParams, moco.momentum);
    },
    release: () => step.release(),
  };
}

/** Fraction of rows whose positive (in column `positive(row)`) scores highest. */
function hitRate(logits: Tensor, positive: (row: number) => number): Tensor {
  const rows = logits.shape[0] as number;
  const target = BigInt64Array.from({ length: rows }, (_, i) => BigInt(positive(i)));
  return logits
    .detach()
    .argmax(1)
    .eq(constant(target, [rows], "int64"))
    .cast("float32")
    .mean();
}
