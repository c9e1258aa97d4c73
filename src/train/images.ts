/**
 * The image-only family: an encoder (backbone + projection head) trained on images alone with an image
 * method's loss (simclr, moco, supcon, triplet), two augmented views per sample (supcon: `views`). Builds the trainee the
 * loop drives: the encoder (the checkpoint's or fresh), the method's extra state (MoCo's key encoder and
 * queue), the data (cached or streamed), class ids for labelled methods, and the compiled step.
 *
 *   RUN/model.safetensors, RUN/juxta.json   the encoder (architecture "image-encoder", class list if labelled)
 *   RUN/moco.safetensors                    MoCo only: key encoder (key.*) and queue, metadata { step }
 */
import { join } from "node:path";
import type { SessionOptions, Tensor } from "../engine/index.js";
import { AUGMENT_PRESETS, type AugmentConfig } from "../image/augment.js";
import {
  ImageEncoder,
  type ImageEncoderConfig,
  type ImageEncoderPreset,
  imageEncoderConfig,
} from "../models/image-encoder.js";
import { imageEncoderFiles, loadImageEncoder, MODEL_FILE } from "../models/saved.js";
import type { Parameter } from "../nn/module.js";
import { type StepResult, TrainStep } from "../nn/train-step.js";
import { formatLocation, UserError } from "../util/errors.js";
import { type DataSummary, openTrainingData } from "./data.js";
import type { ImageMethod, ImageMethodSettings, MethodAugment, MethodExtras } from "./methods/index.js";
import { type ImageSettings, methodSettings } from "./options.js";
import { snapshotBuffers, type Trainee, type TraineeContext } from "./trainee.js";

const CROP_ONLY: AugmentConfig = { ...AUGMENT_PRESETS.none, crop: AUGMENT_PRESETS.simclr.crop };

/** Augmented views of each sample per step: the method's `views` setting where it has one, else two. */
export function viewsOf(settings: ImageMethodSettings): number {
  return settings.views ?? 2;
}

export interface MethodBatch {
  /** [V·N, 3, S, S], view-major (V views per sample, `viewsOf`). */
  pixels: Float32Array;
  /** Class ids [N] (labelled methods). */
  labels?: BigInt64Array;
}

/** A method's compiled step plus what happens around it (MoCo's queue and momentum update). */
export interface MethodStep {
  readonly method: ImageMethod;
  /** Trained parameters, aligned with `StepResult.grads`. */
  readonly params: Parameter[];
  run(batch: MethodBatch, step: number): Promise<StepResult>;
  /** Call after the optimizer has updated `params` (MoCo: key ← m·key + (1−m)·query). */
  afterUpdate(): void;
  release(): Promise<void>;
}

export interface MethodStepOptions {
  /** Samples per batch (N); each contributes its views (two, or the method's `views`). */
  batch: number;
  /** The method's settings (default: its record's defaults). */
  settings?: ImageMethodSettings;
  /** The method's extra state, made by its record's `extras` (MoCo: key encoder and queue). */
  extras?: MethodExtras;
  session?: SessionOptions;
}

/** An image method's compiled step for `model`: the encoder on every view, the loss, gradients, metrics. */
export async function createMethodStep(
  method: ImageMethod,
  model: ImageEncoder,
  opts: MethodStepOptions,
): Promise<MethodStep> {
  const n = opts.batch;
  const s = model.imageSize;
  const settings = methodSettings(method, opts.settings ?? {});
  const views = viewsOf(settings);
  const { extras } = opts;
  if (method.extras && !extras)
    throw new Error(`createMethodStep: ${method.name} needs its extra state (the record's extras())`);
  const step = await TrainStep.create({
    model,
    inputs: {
      images: { shape: [views * n, 3, s, s] },
      ...(method.labelled ? { labels: { shape: [n], dtype: "int64" as const } } : {}),
      ...extras?.inputs,
    },
    loss: (inputs) => {
      extras?.trace();
      const extraInputs = Object.fromEntries(
        Object.keys(extras?.inputs ?? {}).map((k) => [k, inputs[k] as Tensor]),
      );
      return method.loss({
        model,
        images: inputs.images as Tensor,
        labels: inputs.labels,
        n,
        views,
        settings,
        extras,
        extraInputs,
      });
    },
    session: opts.session,
  });
  return {
    method,
    params: step.params,
    async run(batch, index) {
      if (batch.pixels.length !== views * n * 3 * s * s)
        throw new Error(
          `${method.name} step: expected ${views * n} images of 3×${s}×${s}, got ${batch.pixels.length} values`,
        );
      const feeds: Record<string, Float32Array | BigInt64Array> = { images: batch.pixels };
      if (method.labelled) {
        if (!batch.labels) throw new UserError(`${method.name} needs a label for every sample`);
        feeds.labels = batch.labels;
      }
      const r = await step.run({ ...feeds, ...extras?.feeds() }, index);
      extras?.afterRun(r);
      return r;
    },
    afterUpdate: () => extras?.afterUpdate(),
    release: () => step.release(),
  };
}

export async function startImages(method: ImageMethod, ctx: TraineeContext<ImageSettings>): Promise<Trainee> {
  const { settings: o, prior, from } = ctx;
  const cfg: ImageEncoderConfig = o.encoder ?? imageEncoderConfig(o.preset as ImageEncoderPreset);
  const size = cfg.backbone.imageSize;
  const settings = methodSettings(method, o);

  // Data: rows → samples (bad ones skipped and counted), decoded once into the cache or streamed.
  const data = await openTrainingData(o.data, {
    ...ctx.data,
    dataset: ctx.dataset,
    strict: ctx.strict,
    size,
    seed: o.seed,
    stream: ctx.stream,
  });
  const classes = method.labelled ? classList(data.summary, o.data, method.name) : undefined;
  const classIndex = new Map(classes?.map((c, i) => [c, i]));

  const augment = settings.augment as MethodAugment;
  const loader = data.loader({
    batchSize: o.batch,
    views: viewsOf(settings),
    augment: augment === "crop" ? CROP_ONLY : augment,
    workers: ctx.workers,
  });

  // The encoder (fresh or the checkpoint's) and the method's extra state.
  let model: ImageEncoder;
  if (prior && from) {
    const loaded = loadImageEncoder(from);
    model = loaded.model;
    if (loaded.config.step !== prior.step)
      throw new UserError(
        `${join(from, MODEL_FILE)}: holds step ${loaded.config.step}, state.json says ${prior.step}`,
      );
    if (JSON.stringify(loaded.config.classes) !== JSON.stringify(classes))
      throw new UserError(
        `${o.data}: its labels (${classes?.join(", ")}) differ from the run's classes (${loaded.config.classes?.join(", ")})`,
      );
  } else model = new ImageEncoder(cfg).initialize(o.seed);
  model.train();
  const extras = method.extras?.({
    model,
    config: cfg,
    batch: o.batch,
    stepsPerEpoch: loader.stepsPerEpoch,
    seed: o.seed,
    settings,
  });
  if (prior && from) extras?.load(from, prior.step);
  ctx.setup.say(`compiling the ${method.name} training step (forward, loss and backward as one ONNX model)`);
  const step = await createMethodStep(method, model, {
    batch: o.batch,
    settings,
    extras,
    session: ctx.session,
  });

  const buffers = model.buffers();
  return {
    loader,
    step: {
      params: step.params,
      run: (b, index) =>
        step.run(
          {
            pixels: b.pixels,
            labels: classes
              ? BigInt64Array.from(b.labels, (l) => BigInt(classIndex.get(l as string) as number))
              : undefined,
          },
          index,
        ),
      afterUpdate: () => step.afterUpdate(),
      release: () => step.release(),
    },
    files: (at) => ({
      ...imageEncoderFiles(model, { step: at, preset: o.preset, method: method.name, classes }),
      ...extras?.files(at),
    }),
    snapshot() {
      const restoreBuffers = snapshotBuffers(buffers);
      const restoreExtras = extras?.snapshot();
      return () => {
        restoreBuffers();
        restoreExtras?.();
      };
    },
    progress: { label: method.name, unit: "images", perTick: viewsOf(settings) * o.batch },
    get skipped() {
      return data.log.total;
    },
    data: data.record,
    classes,
  };
}

/** Sorted distinct labels; every sample must have one. */
function classList(summary: DataSummary, data: string, method: string): string[] {
  const missing = summary.unlabelled.first;
  if (summary.unlabelled.count > 0)
    throw new UserError(
      `${(missing && formatLocation(missing)) || data}: no label; ${method} trains on labelled images (field 'label')`,
    );
  const classes = [...summary.labels].sort();
  if (classes.length < 2)
    throw new UserError(`${data}: ${method} needs at least two classes, found ${classes.length}`);
  return classes;
}
