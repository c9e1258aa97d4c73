/**
 * MoCo v2 (He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation Learning"; Chen et al.
 * 2020, "Improved Baselines with Momentum Contrastive Learning"): the query encoder embeds view 1, a key
 * encoder — a momentum copy of it that gets no gradient — embeds view 2, and InfoNCE with temperature τ
 * scores each query against its own key and a queue of K earlier keys:
 *
 *   L = −log( exp(q·k⁺/τ) / (exp(q·k⁺/τ) + Σ_{k∈queue} exp(q·k/τ)) ),   key ← m·key + (1 − m)·query
 *
 * The key encoder and the queue are saved with each checkpoint (RUN/moco.safetensors) and restored on resume.
 * Logged: the accuracy of picking the own key.
 *
 *   await train({ method: "moco", data: "images/", out: "runs/moco", minutes: 3 })
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { input, type Tensor } from "../../engine/index.js";
import { encodeSafetensors, readSafetensors, type SafetensorsInput } from "../../io/safetensors.js";
import { mocoLoss, Queue } from "../../losses/index.js";
import { ImageEncoder } from "../../models/image-encoder.js";
import { loadWeights, weightsOf } from "../../models/weights.js";
import { emaUpdate } from "../../optim/index.js";
import { OptionError, UserError } from "../../util/errors.js";
import type { FileData } from "../../util/fs.js";
import { inBatchAccuracy } from "./accuracy.js";
import {
  IMAGE_METHOD_DEFAULTS,
  type ImageMethod,
  type ImageMethodContext,
  type MethodExtras,
} from "./method.js";

export const MOCO_FILE = "moco.safetensors";

export const moco: ImageMethod = {
  name: "moco",
  family: "images",
  summary: "self-supervised image encoder: a momentum key encoder and a queue of negatives (MoCo v2)",
  defaults: {
    ...IMAGE_METHOD_DEFAULTS,
    temperature: 0.2,
    augment: "mocov2",
    // 0.999 (the paper's) barely moves the keys in the short runs this targets.
    momentum: 0.99,
  },
  labelled: false,
  settings: ["temperature", "augment", "queue", "momentum"],
  check({ queue, momentum }, batch) {
    if (queue !== undefined && (!Number.isInteger(queue) || queue < batch || queue % batch !== 0))
      throw new OptionError(`{queue} ${queue}: must be a positive multiple of the batch size ${batch}`);
    if (momentum !== undefined && !(momentum >= 0 && momentum <= 1))
      throw new OptionError(`{momentum} ${momentum}: expected a number in [0, 1]`);
  },
  extras: mocoExtras,
  loss({ model, images, n, settings, extras, extraInputs }) {
    const { key } = extras as MocoExtras;
    const q = model.forward(images.slice(0, 0, n));
    const k = key.forward(images.slice(0, n, 2 * n));
    const { loss, logits, keys } = mocoLoss(q, k, extraInputs.queue as Tensor, {
      temperature: settings.temperature,
    });
    return { loss, metrics: { accuracy: inBatchAccuracy(logits, () => 0), keys } };
  },
};

/**
 * The key encoder (fed as plain inputs named key.*, no gradient) and the queue. The queue holds whole batches
 * and less than an epoch (default up to 4096 keys), so a sample's own previous key rarely is a negative.
 */
/** MoCo's extra state: the key encoder and the queue of earlier keys. */
export interface MocoExtras extends MethodExtras {
  key: ImageEncoder;
  queue: Queue;
}

function mocoExtras(ctx: ImageMethodContext): MocoExtras {
  const { model, config, batch, settings } = ctx;
  const size =
    settings.queue ?? batch * Math.max(1, Math.min(Math.floor(4096 / batch), ctx.stepsPerEpoch - 1));
  const key = new ImageEncoder(config);
  copyWeights(key, model);
  key.train();
  const queue = new Queue(size, config.head.out, { seed: ctx.seed });
  const momentum = settings.momentum as number;
  const keyFeeds: [string, Float32Array][] = [];
  return {
    key,
    queue,
    inputs: { queue: { shape: [queue.size, queue.dim] } },
    trace() {
      keyFeeds.length = 0;
      for (const p of key.parameters("key")) {
        p.value = input(p.name, p.shape);
        keyFeeds.push([p.name, p.data]);
      }
      // Bound so BatchNorm can trace its running-statistics update; nothing reads it, so no input appears.
      for (const b of key.buffers("key")) b.value = input(b.name, b.shape);
    },
    feeds: () => ({ queue: queue.data as Float32Array, ...Object.fromEntries(keyFeeds) }),
    afterRun(r) {
      queue.enqueue(r.metrics.keys as Float32Array);
      delete r.metrics.keys;
    },
    afterUpdate: () => emaUpdate(key.parameters(), model.parameters(), momentum),
    files: (step) => ({ [MOCO_FILE]: mocoFile(key, queue, step) }),
    load: (dir, step) => loadMoco(dir, key, queue, step, batch),
    snapshot() {
      const saved = queue.data.slice();
      const at = queue.position;
      return () => {
        queue.data.set(saved);
        queue.position = at;
      };
    },
  };
}

function copyWeights(target: ImageEncoder, source: ImageEncoder): void {
  const src = [...source.parameters(), ...source.buffers()];
  [...target.parameters(), ...target.buffers()].forEach((t, i) => {
    t.data.set((src[i] as { data: Float32Array }).data);
  });
}

function mocoFile(key: ImageEncoder, queue: Queue, step: number): FileData {
  const tensors: Record<string, SafetensorsInput> = {};
  for (const [name, t] of Object.entries(weightsOf(key))) tensors[`key.${name}`] = t;
  tensors.queue = { dtype: "F32", shape: [queue.size, queue.dim], data: queue.data as Float32Array };
  return encodeSafetensors(tensors, { step: String(step) }, MOCO_FILE);
}

/**
 * Key encoder and queue rows from the checkpoint; the queue's write position follows from the step, since
 * it advances by one batch per step.
 */
function loadMoco(dir: string, key: ImageEncoder, queue: Queue, step: number, batch: number): void {
  const path = join(dir, MOCO_FILE);
  if (!existsSync(path))
    throw new UserError(`${dir}: ${MOCO_FILE} is missing (a MoCo run writes it with each checkpoint)`);
  const { tensors, metadata } = readSafetensors(path);
  if (Number(metadata.step) !== step)
    throw new UserError(
      `${path}: holds step ${metadata.step}, state.json says ${step}; the checkpoint is inconsistent`,
    );
  const rows = tensors.get("queue");
  if (!rows || rows.data.length !== queue.data.length)
    throw new UserError(`${path}: tensor 'queue' is missing or not [${queue.size}, ${queue.dim}]`);
  const keyTensors = new Map(
    [...tensors].filter(([name]) => name.startsWith("key.")).map(([name, t]) => [name.slice(4), t]),
  );
  loadWeights(key, keyTensors, path);
  queue.data.set(rows.data as Float32Array);
  queue.position = (step * batch) % queue.size;
}
