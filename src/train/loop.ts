/**
 * The one training loop, for every method: find the run's checkpoint (or start one), let the method's
 * family build the model, data and compiled step, size the schedule (epochs, or a time budget measured on
 * dry runs), then step — batches prepared in worker threads while ONNX Runtime runs the step, AdamW with
 * warmup + cosine, a progress line, metrics as JSON lines, evaluations on a held-out set, atomic
 * checkpoints, Ctrl-C — and resume exactly where a checkpoint left off.
 *
 *   await train({ method: "clip", data: "pairs.jsonl", out: "runs/clip", minutes: 5 });
 *   await train({ method: "simclr", data: "photos/", out: "runs/simclr", epochs: 20 });
 *   await train({ out: "runs/clip", resume: true });   // method and settings come from the run
 *
 * The run folder: model.safetensors + juxta.json (the model), tokenizer.json (pairs), optimizer.safetensors
 * and state.json (the checkpoint, train/checkpoint.ts), metrics.jsonl, evals.jsonl, and the method's own
 * state (moco.safetensors).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AdamW, clipScale, warmupCosine } from "../optim/index.js";
import { OptionError } from "../util/errors.js";
import { appendJsonLine, ensureDir } from "../util/fs.js";
import { Progress } from "../util/progress.js";
import {
  loadOptimizer,
  OPTIMIZER_FILE,
  optimizerFile,
  removeStale,
  saveCheckpoint,
  showModel,
  type TrainState,
} from "./checkpoint.js";
import { dataPosition } from "./data.js";
import { checkData, type DataFingerprint, fingerprintData } from "./data-fingerprint.js";
import { startImages } from "./images.js";
import { IMAGE_METHODS, type ImageMethodName, type MethodName, methodRecord } from "./methods/index.js";
import {
  type ClipTrainOptions,
  type ImageMethodOptions,
  type ImageSettings,
  type PairSettings,
  resolveSettings,
  runKeys,
  type TrainOptions,
} from "./options.js";
import { startPairs } from "./pairs.js";
import {
  CollapseWatch,
  diverged,
  firstNonFinite,
  noTiming,
  priorRun,
  RunClock,
  type RunTiming,
  SetupTimer,
  truncateMetrics,
} from "./run.js";
import type { Trainee, TraineeContext } from "./trainee.js";

export interface TrainResult extends RunTiming {
  dir: string;
  method: MethodName;
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
  /** The signal that stopped this invocation early (after a final checkpoint), if one did. */
  interrupted?: "SIGINT" | "SIGTERM";
}

/** Train (or resume) a run of any method. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const stream = opts.stream ?? process.stderr;
  const say = (line: string) => stream.write(`${line}\n`);
  const dir = opts.out;
  const setup = new SetupTimer(stream);
  const found = priorRun(dir, opts.resume);
  const prior = found?.state;
  // What a killed run left: a partial checkpoint, temporary files, a half-updated model view.
  if (found) {
    removeStale(dir);
    showModel(dir, found.folder);
  }
  // A resume keeps the run's method; runs from before --method existed recorded none (CLIP).
  const method = methodRecord(opts.method ?? (prior?.options.method as string | undefined) ?? "clip");
  if (prior && opts.method !== undefined && opts.method !== (prior.options.method ?? "clip"))
    throw new OptionError(
      `{resume}: {method} ${opts.method} differs from the run's ${prior.options.method ?? "clip"}; a resumed run keeps it`,
    );
  const settings =
    method.family === "pairs"
      ? resolveSettings(method, opts as ClipTrainOptions, prior)
      : resolveSettings(method, opts as ImageMethodOptions, prior);
  if (prior && prior.step >= prior.totalSteps) {
    say(`${dir}: the run is complete (${prior.step} of ${prior.totalSteps} steps); nothing to resume`);
    return {
      dir,
      method: method.name,
      steps: prior.step,
      totalSteps: prior.totalSteps,
      losses: [],
      lastLoss: Number.NaN,
      skipped: 0,
      secondsPerStep: Number.NaN,
      ...noTiming,
    };
  }
  ensureDir(dir);
  if (prior) {
    const changed = checkData(prior.data, settings.data, opts.acceptChangedData);
    if (changed) say(changed);
  }
  const base = {
    dir,
    prior,
    from: found?.folder,
    setup,
    stream,
    say,
    dataset: opts.dataset,
    strict: opts.strict,
    workers: opts.workers,
    session: opts.session,
    data: dataChoice(opts, prior),
  };
  const trainee: Trainee =
    method.family === "pairs"
      ? await startPairs(method, { ...base, settings: settings as PairSettings }, opts as ClipTrainOptions)
      : await startImages(method, {
          ...base,
          settings: settings as ImageSettings,
        } as TraineeContext<ImageSettings>);
  const { loader, step } = trainee;
  const o = settings;
  const opt = new AdamW(step.params, { ...method.adam, weightDecay: o.weightDecay });
  if (found) loadOptimizer(found.folder, opt, found.state.step);

  let state: TrainState;
  if (prior) state = prior;
  else {
    // A step or epoch count fixes the schedule's length; a time budget sizes it from two dry runs' pace.
    if (o.epochs === undefined && o.steps === undefined)
      setup.say(`timing two dry steps to fit the schedule into ${o.minutes} minutes`);
    const total =
      o.steps ??
      (o.epochs !== undefined
        ? o.epochs * loader.stepsPerEpoch
        : await estimateSteps(trainee, (o.minutes as number) * 60));
    const recorded = settings as unknown as Record<string, unknown>;
    state = {
      step: 0,
      totalSteps: total,
      warmupSteps: o.warmup ?? Math.max(1, Math.min(500, Math.round(total * 0.1))),
      elapsedSeconds: 0,
      options: Object.fromEntries(runKeys(method).map((k) => [k, recorded[k]])),
      data: dataFingerprint(o.data),
      loader: { ...trainee.data },
    };
  }
  const metricsPath = join(dir, "metrics.jsonl");
  const evalsPath = join(dir, "evals.jsonl");
  for (const path of [metricsPath, evalsPath])
    if (prior) truncateMetrics(path, prior.step);
    else writeFileSync(path, "");

  const losses: number[] = [];
  // The last checkpoint written (or resumed from): what a divergence keeps.
  let kept = found && { step: found.state.step, folder: found.folder };
  const checkpoint = () => {
    // Never a checkpoint of non-finite weights or moments: the previous one stays current.
    const bad = firstNonFinite(step.params, opt);
    if (bad) throw diverged(`${bad} is not finite`, state.step, kept, o.lr);
    state.loader = { ...trainee.data, position: dataPosition(state.step, loader) };
    const files = { ...trainee.files(state.step), [OPTIMIZER_FILE]: optimizerFile(opt) };
    kept = { step: state.step, folder: saveCheckpoint(dir, state, files) };
  };
  const startStep = state.step;
  const start = startPosition(state, loader);
  if (found && startStep > 0)
    say(`resuming at step ${startStep} of ${state.totalSteps} from the checkpoint in ${found.folder}`);
  const collapse = method.name === "clip" ? new CollapseWatch(o.batch) : undefined;
  const { label, unit, perTick } = trainee.progress;
  const bar = new Progress({ label, total: state.totalSteps - startStep, stream, unit, perTick });
  const setupSeconds = setup.finish(state);
  const clock = new RunClock(state, {
    budgetSeconds:
      o.epochs === undefined && o.steps === undefined && o.minutes !== undefined ? o.minutes * 60 : undefined,
    saveEvery: opts.saveEvery,
    stopAfter: opts.stopAfter,
    onResize: (remaining) => bar.setTotal(remaining),
    evaluation: trainee.evaluate ? { every: (opts as ClipTrainOptions).evalEvery } : undefined,
  });
  // Evaluations are timed apart: the progress bar's rate counts training only.
  const evaluate = async () => {
    if (!trainee.evaluate) return;
    bar.pause();
    const { values, shown, details } = await clock.evaluate(trainee.evaluate);
    bar.resume();
    appendJsonLine(evalsPath, { step: state.step, values, ...details });
    bar.log(
      `eval at step ${state.step}: ${shown.map((k) => `${k} ${(100 * (values[k] as number)).toFixed(1)}%`).join(", ")}`,
    );
  };
  try {
    if (clock.evaluateAtStart) await evaluate();
    for await (const batch of loader.batches(start.epoch, start.sample / loader.batchSize)) {
      const r = await step.run(batch, state.step);
      if (!Number.isFinite(r.loss)) throw diverged(`the loss became ${r.loss}`, state.step, kept, o.lr);
      const lr = warmupCosine(state.step, { lr: o.lr, warmup: state.warmupSteps, total: state.totalSteps });
      opt.update(r.grads, lr, clipScale(r.gradNorm, o.maxGradNorm));
      step.afterUpdate();
      const { done, stop, save, evaluate: evaluateNow } = clock.stepDone();
      losses.push(r.loss);
      // Scalar metrics as the step computed them (the temperature and bias before this update).
      const metrics = Object.fromEntries(
        Object.entries(r.metrics).map(([k, v]) => [k, Number((v as Float32Array)[0])]),
      );
      appendJsonLine(metricsPath, {
        step: state.step,
        epoch: batch.epoch,
        loss: r.loss,
        lr,
        ...metrics,
        grad_norm: r.gradNorm,
        seconds: Math.round(state.elapsedSeconds * 10) / 10,
      });
      const shown: Record<string, string> = { loss: r.loss.toFixed(3), lr: lr.toExponential(1) };
      if (metrics.temperature !== undefined) shown.T = metrics.temperature.toFixed(1);
      bar.tick(1, shown);
      const warning = collapse?.observe(r.loss, metrics.temperature);
      if (warning) bar.log(`warning: ${warning}`);
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
    say(
      `interrupted (${clock.interrupted}): checkpoint at step ${state.step} saved in ${dir}; continue with --resume`,
    );
  return {
    dir,
    method: method.name,
    steps: state.step,
    totalSteps: state.totalSteps,
    losses,
    lastLoss: losses[losses.length - 1] ?? Number.NaN,
    skipped: trainee.skipped,
    classes: trainee.classes,
    secondsPerStep: losses.length > 0 ? clock.seconds / losses.length : Number.NaN,
    setupSeconds,
    trainSeconds: clock.seconds,
    evalSeconds: clock.evalSeconds,
    ...(clock.interrupted ? { interrupted: clock.interrupted } : {}),
  };
}

/**
 * How this invocation reads the data: a new run as its options say; a resume as the run recorded (runs
 * from before streaming recorded nothing: the pixel cache), refusing options that would change it.
 */
function dataChoice(opts: TrainOptions, prior: TrainState | undefined): TraineeContext<unknown>["data"] {
  if (!prior) return { mode: opts.dataMode, shuffleBuffer: opts.shuffleBuffer };
  const recorded = prior.loader ?? { mode: "cache", samples: Number.NaN };
  if (opts.dataMode !== undefined && opts.dataMode !== "auto" && opts.dataMode !== recorded.mode)
    throw new OptionError(
      `{resume}: {dataMode} ${opts.dataMode} differs from the run's ${recorded.mode}; a resumed run reads its data as it did`,
    );
  if (opts.shuffleBuffer !== undefined && opts.shuffleBuffer !== recorded.shuffleBuffer)
    throw new OptionError(
      `{resume}: {shuffleBuffer} ${opts.shuffleBuffer} differs from the run's ${recorded.shuffleBuffer ?? "(none: it reads from the pixel cache)"}; a resumed run keeps it`,
    );
  return { recorded };
}

/**
 * Where the loader starts: the position the checkpoint recorded (the epoch and the next batch's first sample
 * in it), which must be the one its step implies; runs from before positions were recorded, from the step.
 */
function startPosition(state: TrainState, loader: Trainee["loader"]): { epoch: number; sample: number } {
  const implied = dataPosition(state.step, loader);
  const recorded = state.loader?.position;
  if (recorded && (recorded.epoch !== implied.epoch || recorded.sample !== implied.sample))
    throw new OptionError(
      `{resume}: the checkpoint says the data stands at epoch ${recorded.epoch + 1}, sample ${recorded.sample}, but step ${state.step} of ${loader.stepsPerEpoch}-step epochs is at epoch ${implied.epoch + 1}, sample ${implied.sample}; state.json was edited or the data changed`,
    );
  return implied;
}

/** The data's fingerprint, or none for data that is not one file or folder (a shard pattern). */
function dataFingerprint(data: string): DataFingerprint | undefined {
  try {
    return fingerprintData(data);
  } catch {
    return undefined;
  }
}

/** A CLIP model on image-text pairs (clip, or siglip with `method: "siglip"`). */
export function trainClip(opts: ClipTrainOptions): Promise<TrainResult> {
  return train(opts);
}

/** An image-only encoder (simclr, moco, supcon, triplet). */
export function trainImageMethod(
  opts: ImageMethodOptions,
): Promise<TrainResult & { method: ImageMethodName }> {
  if (!opts.method && !opts.resume)
    throw new OptionError(`{method} must be one of ${IMAGE_METHODS.join(", ")} to start a run`);
  return train(opts) as Promise<TrainResult & { method: ImageMethodName }>;
}

/**
 * A first estimate of the steps that fit in `seconds`, from the time of a second dry run (the first pays
 * for warm-up); it sizes the warm-up, and the schedule's length is corrected after the first real steps.
 * What the dry runs change (BatchNorm statistics, MoCo's queue) is put back afterwards.
 */
async function estimateSteps(trainee: Trainee, seconds: number): Promise<number> {
  const batches = trainee.loader.batches(0, 0);
  const first = await batches.next();
  await batches.return(undefined);
  if (first.done) throw new Error("internal: the loader yielded no batch");
  const restore = trainee.snapshot();
  await trainee.step.run(first.value, 0);
  const t = performance.now();
  await trainee.step.run(first.value, 0);
  const perStep = (performance.now() - t) / 1000;
  restore();
  return Math.max(1, Math.floor(seconds / perStep));
}
