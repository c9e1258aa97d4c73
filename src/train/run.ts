/**
 * What every trainer shares around its step: finding the run's checkpoint, reading and decoding the data
 * once (bad rows skipped and counted), and keeping the metric logs consistent with the checkpoint.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { openDataset } from "../data/open.js";
import type { DatasetOptions } from "../data/options.js";
import { type Sample, SkipLog } from "../data/types.js";
import { buildPixelStore, type PixelStore } from "../image/store.js";
import { OptionError } from "../util/errors.js";
import { formatDuration, Progress, type ProgressStream } from "../util/progress.js";
import { type Checkpoint, readCheckpoint, type TrainState } from "./checkpoint.js";

/**
 * The checkpoint in `dir` to resume from (its newest complete one, files checked), or undefined for a new
 * run; refuses the two mistakes.
 */
export function priorRun(dir: string, resume: boolean | undefined): Checkpoint | undefined {
  const prior = readCheckpoint(dir);
  if (resume && !prior)
    throw new OptionError(`{resume}: ${dir} holds no checkpoint (checkpoint.json) to resume from`);
  if (!resume && prior)
    throw new OptionError(
      `${dir} already holds a run (step ${prior.state.step}); pass {resume} to continue it or choose another {out}`,
    );
  return prior;
}

export interface TrainingSet {
  samples: Sample[];
  store: PixelStore;
  log: SkipLog;
}

/** Read `data`, decode every image once (cached at 1.25 × the training size), report what was skipped. */
export async function loadTrainingSet(
  data: string,
  opts: { dataset?: DatasetOptions; strict?: boolean; size: number; stream: ProgressStream },
): Promise<TrainingSet> {
  const log = new SkipLog(opts.strict ?? false);
  const rows = await openDataset(data, opts.dataset ?? {}, log);
  const decode = new Progress({ label: "decode", total: rows.length, stream: opts.stream, unit: "images" });
  let decoded = 0;
  const { store, samples } = await buildPixelStore(rows, {
    cacheSide: Math.round(opts.size * 1.25),
    skips: log,
    onProgress: (done) => {
      decode.tick(done - decoded);
      decoded = done;
    },
  });
  decode.done();
  if (log.total > 0) opts.stream.write(`${log.summary()}\n`);
  return { samples, store, log };
}

/** Drop metric lines past the checkpoint (steps that a crash lost and the resume will redo). */
export function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.map((l) => `${l}\n`).join(""));
}

/** How long an invocation spent setting up and training (evaluations are part of training time). */
export interface RunTiming {
  /** Reading and decoding the data, the tokenizer, compiling the step, sizing the schedule. */
  setupSeconds: number;
  /** The steps and the evaluations between them. */
  trainSeconds: number;
  evalSeconds: number;
}

export const noTiming: RunTiming = { setupSeconds: 0, trainSeconds: 0, evalSeconds: 0 };

/** `set-up 9.8s, training 31s (evaluation 6.1s of it)`, for the line that ends a run. */
export function formatRunTiming(t: RunTiming): string {
  const evals = t.evalSeconds > 0 ? ` (evaluation ${formatDuration(t.evalSeconds)} of it)` : "";
  return `set-up ${formatDuration(t.setupSeconds)}, training ${formatDuration(t.trainSeconds)}${evals}`;
}

/**
 * Times a trainer's set-up and says what it is doing, so the seconds before the first step are not silent;
 * `finish` adds them to the run's state (state.json keeps the total over resumes) and says how long it took.
 */
export class SetupTimer {
  private readonly t0 = performance.now();

  constructor(private readonly stream: ProgressStream) {}

  say(what: string): void {
    this.stream.write(`${what}\n`);
  }

  finish(state: TrainState): number {
    const seconds = (performance.now() - this.t0) / 1000;
    state.setupSeconds = (state.setupSeconds ?? 0) + seconds;
    this.say(`set-up took ${formatDuration(seconds)}`);
    return seconds;
  }
}

/**
 * An epoch count, a step count and a time budget each fix the schedule's length; given two, neither silently
 * wins. On a resume, `--minutes` may extend a time-budgeted run but not turn an epoch or step run into one.
 */
export function checkScheduleLength(
  epochs: number | undefined,
  minutes: number | undefined,
  resume: boolean,
  steps?: number,
) {
  if (resume) {
    if (minutes === undefined || (epochs === undefined && steps === undefined)) return;
    const length = epochs !== undefined ? `${epochs} epochs` : `${steps} steps`;
    throw new OptionError(
      `{resume}: this run's schedule is ${length}; {minutes} applies only to runs started with {minutes}`,
    );
  }
  const given = (
    [
      ["epochs", epochs],
      ["steps", steps],
      ["minutes", minutes],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (given.length < 2) return;
  throw new OptionError(
    `${given.map(([k]) => `{${k}}`).join(" and ")} both set the schedule's length; give one ({epochs} N passes over the data, {steps} N optimizer steps, or {minutes} M of training)`,
  );
}

/**
 * Steps (counted in this invocation) at which a time-budgeted schedule is re-sized from the pace since the
 * previous re-sizing (the first from the dry-run estimate); after the last, every RESIZE_EVERY steps. The
 * first steps run slower than the rest (the loader's workers fill their queue, ONNX Runtime's arena grows),
 * so sizing once from them left a quarter of a 4-minute budget unused.
 */
const RESIZE_AT = [6, 12, 24, 48];
const RESIZE_EVERY = 64;
/** Without a budget or --eval-every, a run is evaluated this many times (and once before the first step). */
const DEFAULT_EVALS = 10;
/** A time budget spends at most about this share on evaluation (at least one evaluation, at the end). */
const EVAL_SHARE = 0.2;

export interface RunClockOptions {
  /** Wall-clock budget in seconds (a `--minutes` run) for training and its evaluations. */
  budgetSeconds?: number;
  /** Steps between checkpoints; default: every two minutes. */
  saveEvery?: number;
  /** Stop after this many steps in this invocation. */
  stopAfter?: number;
  /** Where the resized total goes (a progress bar counting this invocation's steps). */
  onResize?: (remaining: number) => void;
  /**
   * The run evaluates on a held-out set: before the first step, at the schedule's end, and every `every`
   * steps; without `every`, DEFAULT_EVALS times a run, or under a budget as often as EVAL_SHARE of it allows
   * (decided from how long the first evaluation took).
   */
  evaluation?: { every?: number };
  /** Milliseconds clock, for tests. Default `performance.now`. */
  now?: () => number;
}

/** What `stepDone` decides after each step. */
export interface StepMarks {
  /** The schedule has reached its end. */
  done: boolean;
  /** This invocation stops here (Ctrl-C, stop-after). */
  stop: boolean;
  save: boolean;
  /** Evaluate now (held-out set). */
  evaluate: boolean;
}

/**
 * The bookkeeping around a trainer's steps: elapsed time across resumes, the time budget, the evaluation
 * cadence, when to checkpoint, and Ctrl-C (finish the step, checkpoint, stop).
 *
 * A budget covers the steps and the evaluations between them (set-up comes before and is timed apart). The
 * schedule is sized from the real pace of training steps — evaluation time is kept out of the pace and
 * reserved for the evaluations still to come — and a run ends when its schedule does, so the learning rate
 * always anneals to its end: when the pace slows, the schedule shrinks to fit rather than being cut off.
 * The totals are kept in state.json so a resume keeps them.
 */
export class RunClock {
  readonly startStep: number;
  /** The signal (Ctrl-C's SIGINT, or SIGTERM) that asked this invocation to stop after its step. */
  interrupted: "SIGINT" | "SIGTERM" | undefined;
  private readonly now: () => number;
  private readonly t0: number;
  private readonly elapsedAtStart: number;
  private readonly evalSecondsAtStart: number;
  private lastSave: number;
  /** Where the training pace is measured from: the last re-sizing, or this invocation's first step. */
  private paceFrom: { step: number; seconds: number } | undefined;
  /** Seconds per training step: the dry-run estimate, then the latest measured pace. */
  private perStep: number | undefined;
  /** Seconds the latest evaluation took (the estimate for the next ones). */
  private evalCost: number | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.interrupted = signal === "SIGTERM" ? "SIGTERM" : "SIGINT";
  };

  constructor(
    private readonly state: TrainState,
    private readonly opts: RunClockOptions,
  ) {
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.now();
    this.lastSave = this.t0;
    this.startStep = state.step;
    this.elapsedAtStart = state.elapsedSeconds;
    this.evalSecondsAtStart = state.evals?.seconds ?? 0;
    const budget = opts.budgetSeconds;
    if (budget !== undefined && state.step === 0) this.perStep = budget / Math.max(1, state.totalSteps);
    if (opts.evaluation) {
      const ev = (state.evals ??= { done: 0, runs: 0, seconds: 0 });
      if (opts.evaluation.every === undefined && ev.count === undefined && budget === undefined)
        ev.count = DEFAULT_EVALS;
      if (ev.runs > 0) this.evalCost = ev.seconds / ev.runs;
    }
    // Once: a second signal during the final checkpoint kills as usual.
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
  }

  private get budget(): number | undefined {
    return this.opts.budgetSeconds;
  }

  /** Seconds of the run so far, evaluations included (all invocations). */
  private elapsed(): number {
    return this.elapsedAtStart + (this.now() - this.t0) / 1000;
  }

  /** Whether to evaluate before the first step (a baseline, and the cost that sizes the cadence). */
  get evaluateAtStart(): boolean {
    return this.opts.evaluation !== undefined && this.state.step === 0 && this.state.evals?.runs === 0;
  }

  /** Runs one evaluation, timed apart from training; the first one under a budget decides the cadence. */
  async evaluate<T>(run: () => Promise<T>): Promise<T> {
    const t = this.now();
    const result = await run();
    const seconds = (this.now() - t) / 1000;
    const s = this.state;
    const ev = (s.evals ??= { done: 0, runs: 0, seconds: 0 });
    ev.runs++;
    ev.seconds += seconds;
    if (s.step > 0) ev.done++;
    s.elapsedSeconds = this.elapsed();
    this.evalCost = seconds;
    // Training pace is measured between evaluations: move its origin past this one.
    if (this.paceFrom) this.paceFrom.seconds += seconds;
    const budget = this.budget;
    if (budget !== undefined && this.opts.evaluation?.every === undefined && ev.count === undefined) {
      ev.count = Math.max(1, Math.min(DEFAULT_EVALS, Math.floor((EVAL_SHARE * budget) / seconds) - 1));
      if (this.perStep !== undefined) this.resize(this.perStep, 1);
    }
    return result;
  }

  /** Count a finished step; says whether the run is over, whether to stop, checkpoint or evaluate now. */
  stepDone(): StepMarks {
    const s = this.state;
    s.step++;
    s.elapsedSeconds = this.elapsed();
    const budget = this.budget;
    const k = s.step - this.startStep;
    if (!this.paceFrom) this.paceFrom = { step: s.step, seconds: s.elapsedSeconds };
    else if (budget !== undefined) {
      const perStep = (s.elapsedSeconds - this.paceFrom.seconds) / (s.step - this.paceFrom.step);
      this.perStep = perStep;
      const last = RESIZE_AT[RESIZE_AT.length - 1] as number;
      if (RESIZE_AT.includes(k) || (k > last && (k - last) % RESIZE_EVERY === 0)) {
        this.resize(perStep, 0);
        this.paceFrom = { step: s.step, seconds: s.elapsedSeconds };
      } else if (k > (RESIZE_AT[0] as number) && this.projectedEnd(perStep) > budget + perStep)
        this.resize(perStep, 0); // slower than planned: shrink now rather than overrun
    }
    // A budget already spent (an evaluation or a step slower than all of it) ends the schedule here.
    if (budget !== undefined && s.elapsedSeconds >= budget && s.totalSteps > s.step) {
      s.totalSteps = s.step;
      this.opts.onResize?.(s.totalSteps - this.startStep);
    }
    const done = s.step >= s.totalSteps;
    const stop =
      this.interrupted !== undefined ||
      (this.opts.stopAfter !== undefined && s.step - this.startStep >= this.opts.stopAfter);
    const t = this.now();
    const due = this.opts.saveEvery ? s.step % this.opts.saveEvery === 0 : t - this.lastSave > 120_000;
    if (done || stop || due) this.lastSave = t;
    return { done, stop, save: done || stop || due, evaluate: this.evaluationDue(done) };
  }

  /** Evaluations still to come if the schedule ends at step `total`. */
  private evalsLeft(total: number): number {
    const ev = this.opts.evaluation;
    if (!ev) return 0;
    const step = this.state.step;
    if (ev.every !== undefined)
      return Math.floor(total / ev.every) - Math.floor(step / ev.every) + (total % ev.every === 0 ? 0 : 1);
    const { count, done } = this.state.evals ?? { done: 0 };
    return count === undefined ? 1 : Math.max(1, count - done);
  }

  /** When the run would end at this pace, evaluations included. */
  private projectedEnd(perStep: number): number {
    const s = this.state;
    const evals = this.evalsLeft(s.totalSteps) * (this.evalCost ?? 0);
    return s.elapsedSeconds + (s.totalSteps - s.step) * perStep + evals;
  }

  /**
   * Sizes the schedule to end within the budget: the most steps whose training time at `perStep`, plus the
   * evaluations still to come, fits the time left — at least `least` more: 0 after a step (the schedule may
   * end at the step just taken; 'one more' each time would never end an overrun run), 1 after an evaluation
   * (the loop has already decided to take another step).
   */
  private resize(perStep: number, least: 0 | 1): void {
    const s = this.state;
    const cost = this.evalCost ?? 0;
    const left = (this.budget as number) - s.elapsedSeconds;
    const fits = (extra: number) => extra * perStep + this.evalsLeft(s.step + extra) * cost <= left;
    // The largest number of further steps that fits (binary search; at least `least`).
    let lo: number = least;
    let hi = Math.max(least, Math.floor(left / perStep));
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    s.totalSteps = s.step + lo;
    this.opts.onResize?.(s.totalSteps - this.startStep);
  }

  /** Whether the step just counted is one the evaluation cadence lands on. */
  private evaluationDue(done: boolean): boolean {
    const ev = this.opts.evaluation;
    if (!ev) return false;
    if (done) return true;
    const s = this.state;
    if (ev.every !== undefined) return s.step % ev.every === 0;
    const { count, done: held } = s.evals ?? { done: 0 };
    // Evaluation j of `count` is due once the run passes j/count of its schedule (the last at its end).
    return count !== undefined && Math.floor((s.step * count) / s.totalSteps) > held;
  }

  /** Seconds this invocation has run, training and evaluations. */
  get seconds(): number {
    return (this.now() - this.t0) / 1000;
  }

  /** Seconds this invocation has spent evaluating. */
  get evalSeconds(): number {
    return (this.state.evals?.seconds ?? 0) - this.evalSecondsAtStart;
  }

  release(): void {
    process.removeListener("SIGINT", this.onSignal);
    process.removeListener("SIGTERM", this.onSignal);
  }
}

/**
 * The error that ends a diverged run: what became non-finite at which step, the last finite checkpoint it
 * keeps (a resume continues from it), and what to try.
 */
export function diverged(
  what: string,
  step: number,
  kept: { step: number; folder: string } | undefined,
  lr: number,
): OptionError {
  const keeps = kept
    ? `kept the last finite checkpoint, step ${kept.step} (${kept.folder})`
    : "no checkpoint was written";
  return new OptionError(
    `training diverged at step ${step + 1}: ${what}; stopped and ${keeps}. Try a lower {lr} (now ${lr}) or {maxGradNorm} 1`,
  );
}

/** The first trained parameter or optimizer moment holding NaN or ±Infinity, by name; undefined if none. */
export function firstNonFinite(
  params: readonly { name: string; data: Float32Array }[],
  opt: { state(): { tensors: Record<string, Float32Array> } },
): string | undefined {
  const finite = (a: Float32Array) => {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i] as number)) return false;
    return true;
  };
  for (const p of params) if (!finite(p.data)) return `weight '${p.name}'`;
  for (const [name, t] of Object.entries(opt.state().tensors))
    if (!finite(t)) return `optimizer state '${name}'`;
  return undefined;
}

/** Steps the loss must sit at ln(batch) with a falling scale before a run is called collapsed. */
const COLLAPSE_STEPS = 20;

/**
 * Watches a CLIP run for collapse: every pair scored alike, so the loss sits at ln(batch) (the loss of
 * uniform logits) while the logit scale falls towards 1. Warns once, after COLLAPSE_STEPS such steps.
 */
export class CollapseWatch {
  private readonly chance: number;
  private run: { steps: number; scale: number } | undefined;
  private warned = false;

  constructor(private readonly batch: number) {
    this.chance = Math.log(batch);
  }

  /** A step's loss and logit scale; the warning's text when the run has just been seen collapsing. */
  observe(loss: number, scale: number | undefined): string | undefined {
    if (this.warned || scale === undefined) return undefined;
    if (Math.abs(loss - this.chance) > 0.01 * this.chance) {
      this.run = undefined;
      return undefined;
    }
    this.run ??= { steps: 0, scale };
    this.run.steps++;
    if (this.run.steps < COLLAPSE_STEPS || scale >= this.run.scale) return undefined;
    this.warned = true;
    return `the loss has sat at ln(batch) = ln(${this.batch}) = ${this.chance.toFixed(3)} for ${this.run.steps} steps while the logit scale fell from ${this.run.scale.toFixed(2)} to ${scale.toFixed(2)}: the model is collapsing (it scores every pair alike); try a lower learning rate`;
  }
}
