/**
 * Training a CLIP model on image-text pairs, start to finish: read the data (bad rows skipped and counted),
 * train or load the tokenizer, decode every image once, then loop — batches prepared in worker threads while
 * ONNX Runtime runs the compiled step, AdamW with warmup + cosine, a progress line, metrics as JSON lines,
 * atomic checkpoints — and resume exactly where a checkpoint left off.
 *
 * Two losses: CLIP's softmax InfoNCE (method "clip") and SigLIP's pairwise sigmoid (method "siglip"), whose
 * learnable bias is checkpointed in model.safetensors as `logit_bias` (models/saved.ts).
 */

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { evaluateClip, evalValues, loadEvalSet } from "../apps/evaluate.js";
import { Loader } from "../data/loader.js";
import type { DatasetOptions } from "../data/options.js";
import { SIGLIP_INIT } from "../losses/siglip.js";
import { createSiglipStep } from "../methods/siglip-step.js";
import { CLIP, type ClipConfig } from "../models/clip.js";
import { type PresetName, presetConfig } from "../models/presets.js";
import {
  type ClipMethod,
  checkTokenizer,
  defaultPreprocess,
  type LoadedClip,
  loadClip,
  MODEL_FILE,
  type Preprocess,
  saveClip,
} from "../models/saved.js";
import { AdamW, clipScale, warmupCosine } from "../optim/index.js";
import { loadInit, lockedParams } from "../pretrained/init.js";
import { loadTokenizer, trainBpe } from "../text/index.js";
import type { Tokenizer } from "../text/tokenizer.js";
import { UserError } from "../util/errors.js";
import { appendJsonLine } from "../util/fs.js";
import { Progress, type ProgressStream } from "../util/progress.js";
import { loadOptimizer, saveOptimizer, saveState, type TrainState } from "./checkpoint.js";
import { createClipStep } from "./clip-step.js";
import {
  checkScheduleLength,
  flagName,
  loadTrainingSet,
  nonFiniteLoss,
  noTiming,
  priorRun,
  RunClock,
  type RunTiming,
  SetupTimer,
  truncateMetrics,
} from "./run.js";
import type { TrainStep } from "./step.js";

export interface ClipTrainOptions {
  /** The loss: clip (softmax InfoNCE, default) or siglip (pairwise sigmoid with a learned bias). */
  method?: ClipMethod;
  /** Manifest, folder or shard of image-text pairs (a resume reads it from the run). */
  data?: string;
  out: string;
  /** Model shapes by name (default tiny). */
  preset?: PresetName;
  /** Model shapes, instead of a preset (programmatic use: small models in tests and experiments). */
  config?: ClipConfig;
  epochs?: number;
  /** Wall-clock budget; the schedule is sized from the measured step time. */
  minutes?: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  warmup?: number;
  seed?: number;
  /** Continue the run in `out` from its last checkpoint. */
  resume?: boolean;
  /** Start from these pretrained weights (a Juxta run, a Hugging Face or an OpenCLIP folder). */
  init?: string;
  /** Keep the image (LiT) or the text tower frozen. */
  lockImage?: boolean;
  lockText?: boolean;
  /** Evaluate on this held-out set every `evalEvery` steps (lines in RUN/evals.jsonl). */
  evalData?: string;
  evalEvery?: number;
  /** Use this tokenizer.json instead of training one on the captions. */
  tokenizer?: string;
  /** Steps between checkpoints (default: about every 2 minutes' worth). */
  saveEvery?: number;
  maxGradNorm?: number;
  strict?: boolean;
  dataset?: DatasetOptions;
  workers?: number;
  /** Stop after this many steps in this invocation (a later --resume continues); for tests and demos. */
  stopAfter?: number;
  /** Where progress and messages go (default stderr). */
  stream?: ProgressStream;
}

export interface ClipTrainResult extends RunTiming {
  dir: string;
  steps: number;
  /** The schedule's length (steps == totalSteps once it is complete). */
  totalSteps: number;
  losses: number[];
  lastLoss: number;
  skipped: number;
}

/** The options that define a run; a resume must not change them. */
const RUN_KEYS = [
  "method",
  "data",
  "preset",
  "config",
  "init",
  "lockImage",
  "lockText",
  "epochs",
  "minutes",
  "batch",
  "lr",
  "weightDecay",
  "warmup",
  "seed",
  "maxGradNorm",
] as const;

export async function trainClip(opts: ClipTrainOptions): Promise<ClipTrainResult> {
  const stream = opts.stream ?? process.stderr;
  const say = (line: string) => stream.write(`${line}\n`);
  const dir = opts.out;
  const setup = new SetupTimer(stream);
  const prior = priorRun(dir, opts.resume);
  const o = resolveOptions(opts, prior);
  if (prior && prior.step >= prior.totalSteps) {
    say(`${dir}: the run is complete (${prior.step} of ${prior.totalSteps} steps); nothing to resume`);
    return {
      dir,
      steps: prior.step,
      totalSteps: prior.totalSteps,
      losses: [],
      lastLoss: Number.NaN,
      skipped: 0,
      ...noTiming,
    };
  }
  mkdirSync(dir, { recursive: true });

  // The model to train: the checkpoint's (resume), pretrained weights (--init), or a fresh one.
  let start: { model: CLIP; tokenizer?: Tokenizer; preprocess: Preprocess; logitBias?: number };
  if (prior) {
    start = loadClip(dir);
    const saved = (start as LoadedClip).config;
    if (saved.step !== prior.step)
      throw new UserError(
        `${join(dir, MODEL_FILE)}: holds step ${saved.step}, state.json says ${prior.step}`,
      );
    if ((saved.method ?? "clip") !== o.method)
      throw new UserError(
        `${dir}: juxta.json says method ${saved.method ?? "clip"}, state.json says ${o.method}`,
      );
  } else if (o.init) {
    start = loadInit(o.init, { tokenizer: opts.tokenizer });
    say(`starting from ${o.init} (${start.model.parameterCount.toLocaleString("en")} parameters)`);
    if (o.method === "siglip" && start.logitBias === undefined) {
      // A softmax-trained temperature means nothing to the sigmoid loss: start t and b as SigLIP does.
      start.model.logit_scale.data[0] = SIGLIP_INIT.logTemperature;
      say(
        `siglip: logit_scale reset to log ${Math.exp(SIGLIP_INIT.logTemperature)}, bias ${SIGLIP_INIT.bias}`,
      );
    }
  } else {
    const cfg = o.config ?? presetConfig(o.preset as PresetName);
    const init =
      o.method === "siglip" ? { initLogitScale: cfg.initLogitScale ?? SIGLIP_INIT.logTemperature } : {};
    const model = new CLIP({ ...cfg, ...init }).initialize(o.seed);
    start = { model, preprocess: defaultPreprocess(model.cfg) };
  }
  const { model, preprocess } = start;
  // SigLIP's bias is a parameter of the model (saved with it); a softmax-trained CLIP has none.
  if (o.method === "siglip") model.addLogitBias(SIGLIP_INIT.bias);
  else model.removeLogitBias();
  const bias = model.logit_bias;
  const cfg = model.cfg;
  const size = cfg.vision.imageSize;

  // Data: rows → samples (bad ones skipped and counted) → decoded pixels, once.
  const { store, samples, log } = await loadTrainingSet(o.data, {
    dataset: opts.dataset,
    strict: opts.strict,
    size,
    stream,
  });
  const captioned = samples.filter((s) => s.text);
  if (captioned.length < samples.length)
    throw new UserError(
      `${o.data}: ${samples.length - captioned.length} samples have no caption; CLIP trains on image-text pairs`,
    );

  // Tokenizer: the start model's, a given one, or one trained on these captions.
  let tokenizer: Tokenizer;
  if (start.tokenizer) tokenizer = start.tokenizer;
  else if (opts.tokenizer) tokenizer = loadTokenizer(opts.tokenizer);
  else {
    say(`training a ${cfg.text.vocabSize}-token BPE tokenizer on ${samples.length} captions`);
    tokenizer = trainBpe(
      samples.map((s) => s.text as string),
      { vocabSize: cfg.text.vocabSize },
    );
  }
  checkTokenizer(tokenizer, cfg, opts.tokenizer ?? join(dir, "tokenizer.json"));
  const ctx = cfg.text.contextLength;
  const textLength = captionPositions(tokenizer, captioned, ctx);
  if (textLength < ctx)
    say(
      `captions here need at most ${textLength} of ${ctx} token positions: the text tower runs on ${textLength}`,
    );

  const loader = new Loader(store, samples, {
    batchSize: o.batch,
    size,
    seed: o.seed,
    augment: "clip",
    mean: preprocess.mean,
    std: preprocess.std,
    workers: opts.workers,
  });

  model.train();
  const trainable = o.lockImage || o.lockText ? lockedParams(model, o) : undefined;
  setup.say("compiling the training step (forward, loss and backward as one ONNX model)");
  const step = bias
    ? await createSiglipStep(model, { batch: o.batch, bias, trainable, textLength })
    : await createClipStep(model, { batch: o.batch, trainable, textLength });
  const opt = new AdamW(step.params, { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: o.weightDecay });
  if (prior) loadOptimizer(dir, opt, prior.step);

  let state: TrainState;
  if (prior) state = prior;
  else {
    // An epoch budget fixes the schedule's length; a time budget sizes it from the pace of two dry runs.
    if (o.epochs === undefined)
      setup.say(`timing two dry steps to fit the schedule into ${o.minutes} minutes`);
    const total =
      o.epochs !== undefined
        ? o.epochs * loader.stepsPerEpoch
        : await estimateSteps(step, loader, tokenizer, textLength, (o.minutes as number) * 60);
    state = {
      step: 0,
      totalSteps: total,
      warmupSteps: o.warmup ?? Math.max(1, Math.min(500, Math.round(total * 0.1))),
      elapsedSeconds: 0,
      options: Object.fromEntries(RUN_KEYS.map((k) => [k, o[k]])),
    };
  }
  const metricsPath = join(dir, "metrics.jsonl");
  const evalsPath = join(dir, "evals.jsonl");
  for (const path of [metricsPath, evalsPath])
    if (prior) truncateMetrics(path, prior.step);
    else writeFileSync(path, "");
  if (opts.evalData) setup.say(`reading the held-out set ${opts.evalData}`);
  const evalSet = opts.evalData ? await loadEvalSet(opts.evalData, { dataset: opts.dataset }) : undefined;

  const losses: number[] = [];
  const checkpoint = () => {
    saveClip(dir, model, tokenizer, {
      step: state.step,
      preset: o.preset,
      preprocess,
    });
    saveOptimizer(dir, opt);
    saveState(dir, state);
  };
  const startStep = state.step;
  const startEpoch = Math.floor(startStep / loader.stepsPerEpoch);

  if (startStep > 0) say(`resuming at step ${startStep} of ${state.totalSteps}`);
  const bar = new Progress({
    label: "train",
    total: state.totalSteps - startStep,
    stream,
    unit: "pairs",
    perTick: o.batch,
  });
  const setupSeconds = setup.finish(state);
  const clock = new RunClock(state, {
    budgetSeconds: o.epochs === undefined && o.minutes !== undefined ? o.minutes * 60 : undefined,
    saveEvery: opts.saveEvery,
    stopAfter: opts.stopAfter,
    onResize: (remaining) => bar.setTotal(remaining),
    evaluation: evalSet ? { every: opts.evalEvery } : undefined,
  });
  // Evaluations are timed apart: the progress bar's pairs/s counts training only.
  const evaluate = async () => {
    if (!evalSet) return;
    bar.pause();
    const result = await clock.evaluate(() =>
      evaluateClip({ model, tokenizer, preprocess }, evalSet, { linearProbe: false }),
    );
    model.train();
    bar.resume();
    const values = evalValues(result);
    // counts and classes let a report draw chance levels (R@k: k/captions or k/images; top-k: k/classes).
    const classes = result.zero_shot?.classes;
    appendJsonLine(evalsPath, { step: state.step, values, counts: result.counts, classes });
    const shown = ["image_to_text/R@1", "text_to_image/R@1", "zero_shot/top1"].filter((k) => k in values);
    bar.log(
      `eval at step ${state.step}: ${shown.map((k) => `${k} ${(100 * (values[k] as number)).toFixed(1)}%`).join(", ")}`,
    );
  };
  try {
    if (clock.evaluateAtStart) await evaluate();
    for await (const batch of loader.batches(startEpoch, startStep % loader.stepsPerEpoch)) {
      const tokens = tokenizer.encodeBatch(batch.texts, textLength);
      const r = await step.run({ images: batch.pixels, tokens }, state.step);
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
      const { done, stop, save, evaluate: evaluateNow } = clock.stepDone();
      losses.push(r.loss);
      const temperature = (r.metrics.temperature as Float32Array)[0] as number;
      const accuracy = (r.metrics.accuracy as Float32Array)[0] as number;
      // The bias the step used (before this update), as the temperature is.
      const biasUsed = r.metrics.bias ? { bias: (r.metrics.bias as Float32Array)[0] as number } : {};
      appendJsonLine(metricsPath, {
        step: state.step,
        epoch: batch.epoch,
        loss: r.loss,
        lr,
        temperature,
        ...biasUsed,
        accuracy,
        grad_norm: r.gradNorm,
        seconds: Math.round(state.elapsedSeconds * 10) / 10,
      });
      bar.tick(1, { loss: r.loss.toFixed(3), lr: lr.toExponential(1), T: temperature.toFixed(1) });
      if (evaluateNow) await evaluate();
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
    steps: state.step,
    totalSteps: state.totalSteps,
    losses,
    lastLoss: losses[losses.length - 1] ?? Number.NaN,
    skipped: log.total,
    setupSeconds,
    trainSeconds: clock.seconds,
    evalSeconds: clock.evalSeconds,
  };
}

/**
 * Token positions the text tower needs for these captions: the longest encoding (start and end tokens
 * included, at most the context), rounded up to a multiple of 8. Positions after a caption's end-of-text
 * token never reach CLIP's loss (causal tower, pooled there), so dropping the ones no caption uses is exact.
 */
function captionPositions(tokenizer: Tokenizer, samples: readonly { text?: string }[], ctx: number): number {
  let longest = 1;
  for (const s of samples)
    longest = Math.max(longest, Math.min(ctx, tokenizer.encode(s.text as string).length + 2));
  return Math.min(ctx, Math.ceil(longest / 8) * 8);
}

/**
 * A first estimate of the steps that fit in `seconds`, from a second dry run (the first pays for warm-up);
 * it sizes the warm-up, and the schedule's length is corrected after the first real steps.
 */
async function estimateSteps(
  step: TrainStep,
  loader: Loader,
  tokenizer: Tokenizer,
  textLength: number,
  seconds: number,
): Promise<number> {
  const batches = loader.batches(0, 0);
  const first = await batches.next();
  await batches.return(undefined);
  if (first.done) throw new Error("internal: the loader yielded no batch");
  const feeds = { images: first.value.pixels, tokens: tokenizer.encodeBatch(first.value.texts, textLength) };
  await step.run(feeds, 0);
  const t = performance.now();
  await step.run(feeds, 0);
  const perStep = (performance.now() - t) / 1000;
  return Math.max(1, Math.floor(seconds / perStep));
}

type Resolved = {
  method: ClipMethod;
  data: string;
  preset: string;
  config: ClipConfig | undefined;
  init: string | undefined;
  lockImage: boolean;
  lockText: boolean;
  epochs: number | undefined;
  minutes: number | undefined;
  batch: number;
  lr: number;
  weightDecay: number;
  warmup: number | undefined;
  seed: number;
  maxGradNorm: number | undefined;
};

function resolveOptions(opts: ClipTrainOptions, prior: TrainState | undefined): Resolved {
  if (prior) {
    // Runs from before SigLIP existed recorded no method.
    const saved = { method: "clip", ...prior.options } as Partial<Resolved>;
    for (const k of RUN_KEYS) {
      const given = opts[k];
      if (given !== undefined && k !== "minutes" && JSON.stringify(given) !== JSON.stringify(saved[k]))
        throw new UserError(
          `--resume: --${flagName(k)} ${given} differs from the run's ${saved[k]}; a resumed run keeps its settings`,
        );
    }
    checkScheduleLength(saved.epochs, opts.minutes, true);
    return { ...(saved as Resolved), minutes: opts.minutes ?? saved.minutes };
  }
  if (!opts.data) throw new UserError("--data is required to start a run");
  const method = opts.method ?? "clip";
  if (method !== "clip" && method !== "siglip")
    throw new UserError(`--method must be clip or siglip for image-text training, got ${method}`);
  if (opts.init && (opts.preset || opts.config))
    throw new UserError("--init takes its shapes from the pretrained model; drop --preset");
  checkScheduleLength(opts.epochs, opts.minutes, false);
  const epochs = opts.epochs ?? (opts.minutes === undefined ? 10 : undefined);
  return {
    method,
    data: opts.data,
    preset: opts.config ? "custom" : opts.init ? "init" : (opts.preset ?? "tiny"),
    config: opts.config,
    init: opts.init,
    lockImage: opts.lockImage ?? false,
    lockText: opts.lockText ?? false,
    epochs,
    minutes: opts.minutes,
    batch: opts.batch ?? 128,
    // Fine-tuning moves pretrained weights gently (OpenCLIP's fine-tuning recipes use 1e-5 to 5e-5).
    lr: opts.lr ?? (opts.init ? 1e-5 : 5e-4),
    weightDecay: opts.weightDecay ?? 0.2,
    warmup: opts.warmup,
    seed: opts.seed ?? 0,
    maxGradNorm: opts.maxGradNorm,
  };
}
