/**
 * Training an image-only encoder with a self-supervised (SimCLR, MoCo v2) or metric-learning (SupCon,
 * triplet) method, start to finish, structured like the CLIP trainer: read the data (bad rows skipped and
 * counted), decode every image once, then loop — two augmented views per sample prepared in worker
 * threads while ONNX Runtime runs the compiled step, AdamW with warmup + cosine, a progress line, metrics as
 * JSON lines, atomic checkpoints — and resume exactly where a checkpoint left off (MoCo's key encoder and
 * queue included).
 *
 *   RUN/model.safetensors, RUN/juxta.json   the encoder (architecture "image-encoder", class list if labelled)
 *   RUN/optimizer.safetensors, RUN/state.json, RUN/metrics.jsonl   as for CLIP runs (train/checkpoint.ts)
 *   RUN/moco.safetensors                    MoCo only: key encoder (key.*) and queue, metadata { step }
 */

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Loader } from "../data/loader.js";
import type { DatasetOptions } from "../data/options.js";
import type { Sample } from "../data/types.js";
import type { SessionOptions } from "../engine/index.js";
import { AUGMENT_PRESETS, type AugmentConfig, type AugmentPreset } from "../image/augment.js";
import { readSafetensors, type SafetensorsInput, writeSafetensors } from "../io/safetensors.js";
import { Queue, type Similarity, type TripletMiner } from "../losses/index.js";
import {
  ImageEncoder,
  type ImageEncoderConfig,
  type ImageEncoderPreset,
  imageEncoderConfig,
} from "../models/image-encoder.js";
import { loadImageEncoder, MODEL_FILE, saveImageEncoder } from "../models/saved.js";
import { loadWeights, weightsOf } from "../models/weights.js";
import { AdamW, clipScale, warmupCosine } from "../optim/index.js";
import { loadOptimizer, saveOptimizer, saveState, type TrainState } from "../train/checkpoint.js";
import {
  checkScheduleLength,
  flagName,
  loadTrainingSet,
  nonFiniteLoss,
  priorRun,
  RunClock,
  type RunTiming,
  SetupTimer,
  truncateMetrics,
} from "../train/run.js";
import { formatLocation, UserError } from "../util/errors.js";
import { appendJsonLine } from "../util/fs.js";
import { Progress, type ProgressStream } from "../util/progress.js";
import {
  createMethodStep,
  IMAGE_METHODS,
  type ImageMethod,
  LABELLED_METHODS,
  type MethodBatch,
  type MethodStep,
} from "./steps.js";

export const MOCO_FILE = "moco.safetensors";

/** An augmentation preset, "crop" (SimCLR's random resized crop and nothing else), or a full config. */
export type MethodAugment = AugmentPreset | "crop" | AugmentConfig;

const CROP_ONLY: AugmentConfig = { ...AUGMENT_PRESETS.none, crop: AUGMENT_PRESETS.simclr.crop };

export interface ImageMethodOptions {
  method?: ImageMethod;
  /** Manifest, folder or shard of images (labels needed for supcon/triplet); a resume reads it from the run. */
  data?: string;
  out: string;
  /** Image encoder preset (models/image-encoder.ts); default resnet-small. */
  preset?: ImageEncoderPreset;
  /** A custom encoder configuration instead of a preset. */
  encoder?: ImageEncoderConfig;
  epochs?: number;
  /** Wall-clock budget; the schedule is sized from the measured step time. */
  minutes?: number;
  /** Samples per batch (each gives two views). Default 128. */
  batch?: number;
  lr?: number;
  weightDecay?: number;
  warmup?: number;
  /** Loss temperature (default per method: simclr 0.5, moco 0.2, supcon 0.1). */
  temperature?: number;
  /** SimCLR's similarity: cosine (default) or dot. */
  similarity?: Similarity;
  /** Default: simclr for simclr/supcon/triplet, mocov2 for moco. */
  augment?: MethodAugment;
  /** Triplet margin (default 0.2) and miner (default batch_hard). */
  margin?: number;
  miner?: TripletMiner;
  /** MoCo queue length (default 4096, capped below one epoch of samples; rounded to a multiple of batch). */
  queue?: number;
  /** MoCo key-encoder momentum (default 0.99: 0.999 barely moves the keys in the short runs this targets). */
  momentum?: number;
  seed?: number;
  resume?: boolean;
  /** Steps between checkpoints (default: about every 2 minutes' worth). */
  saveEvery?: number;
  maxGradNorm?: number;
  strict?: boolean;
  dataset?: DatasetOptions;
  workers?: number;
  /** ONNX Runtime options of the training step (threads). */
  session?: SessionOptions;
  /** Stop after this many steps in this invocation (a later resume continues); for tests and demos. */
  stopAfter?: number;
  stream?: ProgressStream;
}

export interface ImageMethodResult extends RunTiming {
  dir: string;
  method: ImageMethod;
  steps: number;
  /** The schedule's length (steps == totalSteps once it is complete). */
  totalSteps: number;
  losses: number[];
  lastLoss: number;
  skipped: number;
  /** Class names by id (labelled methods). */
  classes?: string[];
  /** Mean wall-clock seconds per step in this invocation (loader waits included). */
  secondsPerStep: number;
}

/** The options that define a run; a resume must not change them. */
const RUN_KEYS = [
  "method",
  "data",
  "preset",
  "encoder",
  "epochs",
  "minutes",
  "batch",
  "lr",
  "weightDecay",
  "warmup",
  "seed",
  "maxGradNorm",
  "temperature",
  "similarity",
  "augment",
  "margin",
  "miner",
  "queue",
  "momentum",
] as const;

type Resolved = {
  method: ImageMethod;
  data: string;
  preset: string | undefined;
  encoder: ImageEncoderConfig | undefined;
  epochs: number | undefined;
  minutes: number | undefined;
  batch: number;
  lr: number;
  weightDecay: number;
  warmup: number | undefined;
  seed: number;
  maxGradNorm: number | undefined;
  temperature: number | undefined;
  similarity: Similarity | undefined;
  augment: MethodAugment;
  margin: number | undefined;
  miner: TripletMiner | undefined;
  queue: number | undefined;
  momentum: number;
};

interface MocoState {
  key: ImageEncoder;
  queue: Queue;
  momentum: number;
}

export async function trainImageMethod(opts: ImageMethodOptions): Promise<ImageMethodResult> {
  const stream = opts.stream ?? process.stderr;
  const say = (line: string) => stream.write(`${line}\n`);
  const dir = opts.out;
  const setup = new SetupTimer(stream);
  const prior = priorRun(dir, opts.resume);
  const o = resolveOptions(opts, prior);
  mkdirSync(dir, { recursive: true });
  const cfg = o.encoder ?? imageEncoderConfig((o.preset ?? "resnet-small") as ImageEncoderPreset);
  const size = cfg.backbone.imageSize;

  // Data: rows → samples (bad ones skipped and counted) → decoded pixels, once.
  const { store, samples, log } = await loadTrainingSet(o.data, {
    dataset: opts.dataset,
    strict: opts.strict,
    size,
    stream,
  });
  const labelled = LABELLED_METHODS.includes(o.method);
  const classes = labelled ? classList(samples, o.data, o.method) : undefined;
  const classIndex = new Map(classes?.map((c, i) => [c, i]));

  const loader = new Loader(store, samples, {
    batchSize: o.batch,
    size,
    seed: o.seed,
    views: 2,
    augment: o.augment === "crop" ? CROP_ONLY : o.augment,
    workers: opts.workers,
  });

  // Model (fresh or the checkpoint's), MoCo's key encoder and queue, optimizer.
  let model: ImageEncoder;
  if (prior) {
    const loaded = loadImageEncoder(dir);
    model = loaded.model;
    if (loaded.config.step !== prior.step)
      throw new UserError(
        `${join(dir, MODEL_FILE)}: holds step ${loaded.config.step}, state.json says ${prior.step}`,
      );
    if (JSON.stringify(loaded.config.classes) !== JSON.stringify(classes))
      throw new UserError(
        `${o.data}: its labels (${classes?.join(", ")}) differ from the run's classes (${loaded.config.classes?.join(", ")})`,
      );
  } else model = new ImageEncoder(cfg).initialize(o.seed);
  model.train();
  let moco: MocoState | undefined;
  if (o.method === "moco") {
    const size = mocoQueueSize(o.queue, o.batch, loader.stepsPerEpoch);
    const key = new ImageEncoder(cfg);
    copyWeights(key, model);
    key.train();
    moco = { key, queue: new Queue(size, cfg.head.out, { seed: o.seed }), momentum: o.momentum };
    if (prior) loadMoco(dir, moco, prior.step, o.batch);
  }
  setup.say(`compiling the ${o.method} training step (forward, loss and backward as one ONNX model)`);
  const step = await createMethodStep(o.method, model, {
    batch: o.batch,
    temperature: o.temperature,
    similarity: o.similarity,
    margin: o.margin,
    miner: o.miner,
    moco,
    session: opts.session,
  });
  const opt = new AdamW(step.params, { weightDecay: o.weightDecay });
  if (prior) loadOptimizer(dir, opt, prior.step);

  const toBatch = (b: { pixels: Float32Array; labels: (string | undefined)[] }): MethodBatch => ({
    pixels: b.pixels,
    labels: labelled
      ? BigInt64Array.from(b.labels, (l) => BigInt(classIndex.get(l as string) as number))
      : undefined,
  });

  let state: TrainState;
  if (prior) state = prior;
  else {
    if (o.epochs === undefined)
      setup.say(`timing two dry steps to fit the schedule into ${o.minutes} minutes`);
    const total =
      o.epochs !== undefined
        ? o.epochs * loader.stepsPerEpoch
        : await estimateSteps(step, loader, model, moco, toBatch, (o.minutes as number) * 60);
    state = {
      step: 0,
      totalSteps: total,
      warmupSteps: o.warmup ?? Math.max(1, Math.min(500, Math.round(total * 0.1))),
      elapsedSeconds: 0,
      options: Object.fromEntries(RUN_KEYS.map((k) => [k, o[k]])),
    };
  }
  const metricsPath = join(dir, "metrics.jsonl");
  if (prior) truncateMetrics(metricsPath, prior.step);
  else writeFileSync(metricsPath, "");

  const losses: number[] = [];
  const startStep = state.step;
  const startEpoch = Math.floor(startStep / loader.stepsPerEpoch);
  const checkpoint = () => {
    saveImageEncoder(dir, model, { step: state.step, preset: o.preset, method: o.method, classes });
    if (moco) saveMoco(dir, moco, state.step);
    saveOptimizer(dir, opt);
    saveState(dir, state);
  };

  if (startStep > 0) say(`resuming at step ${startStep} of ${state.totalSteps}`);
  const bar = new Progress({
    label: o.method,
    total: state.totalSteps - startStep,
    stream,
    unit: "images",
    perTick: 2 * o.batch,
  });
  const setupSeconds = setup.finish(state);
  const clock = new RunClock(state, {
    budgetSeconds: o.epochs === undefined && o.minutes !== undefined ? o.minutes * 60 : undefined,
    saveEvery: opts.saveEvery,
    stopAfter: opts.stopAfter,
    onResize: (remaining) => bar.setTotal(remaining),
  });
  try {
    for await (const batch of loader.batches(startEpoch, startStep % loader.stepsPerEpoch)) {
      const r = await step.run(toBatch(batch), state.step);
      if (!Number.isFinite(r.loss))
        throw nonFiniteLoss(
          r.loss,
          state.step,
          dir,
          state.step > 0 && existsSync(join(dir, MODEL_FILE)),
          o.lr,
        );
      const lr = warmupCosine(state.step, { lr: o.lr, warmup: state.warmupSteps, total: state.totalSteps });
      opt.update(r.grads, lr, clipScale(r.gradNorm, o.maxGradNorm));
      step.afterUpdate();
      const { done, stop, save } = clock.stepDone();
      losses.push(r.loss);
      const extra = Object.fromEntries(
        Object.entries(r.metrics).map(([k, v]) => [k, Number((v as Float32Array)[0])]),
      );
      appendJsonLine(metricsPath, {
        step: state.step,
        epoch: batch.epoch,
        loss: r.loss,
        lr,
        ...extra,
        grad_norm: r.gradNorm,
        seconds: Math.round(state.elapsedSeconds * 10) / 10,
      });
      bar.tick(1, { loss: r.loss.toFixed(3), lr: lr.toExponential(1) });
      if (save) checkpoint();
      if (done || stop) break;
    }
  } finally {
    clock.release();
    bar.done();
    await loader.close();
    await step.release();
  }
  if (clock.interrupted)
    say(`interrupted: checkpoint at step ${state.step} saved in ${dir}; continue with --resume`);
  return {
    dir,
    method: o.method,
    steps: state.step,
    totalSteps: state.totalSteps,
    losses,
    lastLoss: losses[losses.length - 1] ?? Number.NaN,
    skipped: log.total,
    classes,
    secondsPerStep: losses.length > 0 ? clock.seconds / losses.length : Number.NaN,
    setupSeconds,
    trainSeconds: clock.seconds,
    evalSeconds: clock.evalSeconds,
  };
}

/** Sorted distinct labels; every sample must have one. */
function classList(samples: readonly Sample[], data: string, method: string): string[] {
  const missing = samples.find((s) => s.label === undefined || s.label === "");
  if (missing)
    throw new UserError(
      `${formatLocation(missing.origin) || data}: no label; ${method} trains on labelled images (field 'label')`,
    );
  const classes = [...new Set(samples.map((s) => s.label as string))].sort();
  if (classes.length < 2)
    throw new UserError(`${data}: ${method} needs at least two classes, found ${classes.length}`);
  return classes;
}

/** The queue holds whole batches and less than an epoch, so a sample's own previous key rarely is a negative. */
function mocoQueueSize(requested: number | undefined, batch: number, stepsPerEpoch: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < batch || requested % batch !== 0)
      throw new UserError(`--queue ${requested}: must be a positive multiple of the batch size ${batch}`);
    return requested;
  }
  return batch * Math.max(1, Math.min(Math.floor(4096 / batch), stepsPerEpoch - 1));
}

function copyWeights(target: ImageEncoder, source: ImageEncoder): void {
  const src = [...source.parameters(), ...source.buffers()];
  [...target.parameters(), ...target.buffers()].forEach((t, i) => {
    t.data.set((src[i] as { data: Float32Array }).data);
  });
}

function saveMoco(dir: string, moco: MocoState, step: number): void {
  const tensors: Record<string, SafetensorsInput> = {};
  for (const [name, t] of Object.entries(weightsOf(moco.key))) tensors[`key.${name}`] = t;
  tensors.queue = {
    dtype: "F32",
    shape: [moco.queue.size, moco.queue.dim],
    data: moco.queue.data as Float32Array,
  };
  writeSafetensors(join(dir, MOCO_FILE), tensors, { step: String(step) });
}

/**
 * Key encoder and queue rows from the checkpoint; the queue's write position is restored by re-enqueueing
 * the rows it passed over (their own values), since it advances by one batch per step.
 */
function loadMoco(dir: string, moco: MocoState, step: number, batch: number): void {
  const path = join(dir, MOCO_FILE);
  if (!existsSync(path))
    throw new UserError(`${dir}: ${MOCO_FILE} is missing (a MoCo run writes it with each checkpoint)`);
  const { tensors, metadata } = readSafetensors(path);
  if (Number(metadata.step) !== step)
    throw new UserError(
      `${path}: holds step ${metadata.step}, state.json says ${step}; the checkpoint is inconsistent`,
    );
  const queue = tensors.get("queue");
  if (!queue || queue.data.length !== moco.queue.data.length)
    throw new UserError(`${path}: tensor 'queue' is missing or not [${moco.queue.size}, ${moco.queue.dim}]`);
  const keyTensors = new Map(
    [...tensors].filter(([name]) => name.startsWith("key.")).map(([name, t]) => [name.slice(4), t]),
  );
  loadWeights(moco.key, keyTensors, path);
  moco.queue.data.set(queue.data as Float32Array);
  walkQueue(moco.queue, batch, 0, ((step * batch) % moco.queue.size) / batch);
}

/**
 * Advance a queue's write position (now at batch slot `from`) by `count` batches without changing its
 * rows: each enqueue writes back the rows it replaces.
 */
function walkQueue(queue: Queue, batch: number, from: number, count: number): void {
  const row = batch * queue.dim;
  const slots = queue.size / batch;
  for (let i = 0; i < count; i++) {
    const at = ((from + i) % slots) * row;
    queue.enqueue(queue.data.slice(at, at + row));
  }
}

/**
 * Steps that fit in `seconds`, from the time of a second dry run (the first pays for warm-up). The dry runs
 * change BatchNorm's running statistics and MoCo's queue, so both are put back afterwards.
 */
async function estimateSteps(
  step: MethodStep,
  loader: Loader,
  model: ImageEncoder,
  moco: MocoState | undefined,
  toBatch: (b: { pixels: Float32Array; labels: (string | undefined)[] }) => MethodBatch,
  seconds: number,
): Promise<number> {
  const batches = loader.batches(0, 0);
  const first = await batches.next();
  await batches.return(undefined);
  if (first.done) throw new Error("internal: the loader yielded no batch");
  const buffers = model.buffers().map((b) => [b, b.data.slice()] as const);
  const saved = moco?.queue.data.slice();
  const feeds = toBatch(first.value);
  await step.run(feeds, 0);
  const t = performance.now();
  await step.run(feeds, 0);
  const perStep = (performance.now() - t) / 1000;
  for (const [b, data] of buffers) b.data.set(data);
  if (moco && saved) {
    // Two batches were enqueued: put the rows back and walk the write position round to the start.
    moco.queue.data.set(saved);
    const slots = moco.queue.size / loader.batchSize;
    walkQueue(moco.queue, loader.batchSize, 2 % slots, (slots - (2 % slots)) % slots);
  }
  return Math.max(1, Math.floor(seconds / perStep));
}

function resolveOptions(opts: ImageMethodOptions, prior: TrainState | undefined): Resolved {
  if (prior) {
    const saved = prior.options as Partial<Resolved>;
    for (const k of RUN_KEYS) {
      const given = opts[k];
      if (given !== undefined && k !== "minutes" && JSON.stringify(given) !== JSON.stringify(saved[k]))
        throw new UserError(
          `--resume: --${flagName(k)} ${JSON.stringify(given)} differs from the run's ${JSON.stringify(saved[k])}; a resumed run keeps its settings`,
        );
    }
    checkScheduleLength(saved.epochs, opts.minutes, true);
    return { ...(saved as Resolved), minutes: opts.minutes ?? saved.minutes };
  }
  if (!opts.data) throw new UserError("--data is required to start a run");
  checkScheduleLength(opts.epochs, opts.minutes, false);
  if (!opts.method || !IMAGE_METHODS.includes(opts.method))
    throw new UserError(`--method must be one of ${IMAGE_METHODS.join(", ")}, got ${opts.method}`);
  const method = opts.method;
  if (opts.similarity !== undefined && method !== "simclr")
    throw new UserError(`--similarity applies to simclr only (${method} compares normalized embeddings)`);
  const epochs = opts.epochs ?? (opts.minutes === undefined ? 10 : undefined);
  return {
    method,
    data: opts.data,
    preset: opts.encoder ? opts.preset : (opts.preset ?? "resnet-small"),
    encoder: opts.encoder,
    epochs,
    minutes: opts.minutes,
    batch: opts.batch ?? 128,
    lr: opts.lr ?? 1e-3,
    weightDecay: opts.weightDecay ?? 1e-4,
    warmup: opts.warmup,
    seed: opts.seed ?? 0,
    maxGradNorm: opts.maxGradNorm,
    temperature: opts.temperature,
    similarity: opts.similarity,
    augment: opts.augment ?? (method === "moco" ? "mocov2" : "simclr"),
    margin: opts.margin,
    miner: opts.miner,
    queue: opts.queue,
    momentum: opts.momentum ?? 0.99,
  };
}
