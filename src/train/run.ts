/**
 * What every trainer shares around its step: finding the run's checkpoint, reading and decoding the data
 * once (bad rows skipped and counted), and keeping the metric logs consistent with the checkpoint.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { openDataset } from "../data/open.js";
import type { DatasetOptions } from "../data/options.js";
import { type Sample, SkipLog } from "../data/types.js";
import { buildPixelStore, type PixelStore } from "../image/store.js";
import { UserError } from "../util/errors.js";
import { Progress, type ProgressStream } from "../util/progress.js";
import { readState, type TrainState } from "./checkpoint.js";

/** The checkpoint in `dir` to resume from, or undefined for a new run; refuses the two mistakes. */
export function priorRun(dir: string, resume: boolean | undefined): TrainState | undefined {
  const prior = readState(dir);
  if (resume && !prior)
    throw new UserError(`--resume: ${dir} holds no checkpoint (state.json) to resume from`);
  if (!resume && prior)
    throw new UserError(
      `${dir} already holds a run (step ${prior.step}); pass --resume to continue it or choose another --out`,
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

/** `--flag-name` for an option key (`weightDecay` → `weight-decay`), for error messages. */
export const flagName = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

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

/**
 * Steps at which a time-budgeted schedule is re-sized from the pace since the previous re-sizing (the first
 * from the dry-run estimate). The first steps run slower than the rest (the loader's workers fill their
 * queue, ONNX Runtime's arena grows), so sizing once from them left a quarter of a 4-minute budget unused.
 */
const RESIZE_AT = [6, 12, 24, 48];

export interface RunClockOptions {
  /** Wall-clock budget in seconds (a `--minutes` run); the schedule is resized from the real pace. */
  budgetSeconds?: number;
  /** Steps between checkpoints; default: every two minutes. */
  saveEvery?: number;
  /** Stop after this many steps in this invocation. */
  stopAfter?: number;
  /** Where the resized total goes (a progress bar counting this invocation's steps). */
  onResize?: (remaining: number) => void;
}

/**
 * The bookkeeping around a trainer's steps: elapsed time across resumes, the time budget (the schedule is
 * sized from the first real steps, with the loader's workers busy, and kept in state.json so a resume keeps
 * it), when to checkpoint, and Ctrl-C (finish the step, checkpoint, stop).
 */
export class RunClock {
  readonly startStep: number;
  interrupted = false;
  private readonly t0 = performance.now();
  private readonly elapsedAtStart: number;
  private lastSave = performance.now();
  /** Where the pace is measured from: the last re-sizing, or this invocation's first step. */
  private paceFrom: { step: number; seconds: number } | undefined;
  private readonly onSignal = () => {
    this.interrupted = true;
  };

  constructor(
    private readonly state: TrainState,
    private readonly opts: RunClockOptions,
  ) {
    this.startStep = state.step;
    this.elapsedAtStart = state.elapsedSeconds;
    process.once("SIGINT", this.onSignal);
  }

  /** Count a finished step; says whether the run is over and whether to checkpoint now. */
  stepDone(): { done: boolean; stop: boolean; save: boolean } {
    const s = this.state;
    s.step++;
    s.elapsedSeconds = this.elapsedAtStart + (performance.now() - this.t0) / 1000;
    const budget = this.opts.budgetSeconds ?? Number.POSITIVE_INFINITY;
    const from = this.paceFrom;
    if (!from) this.paceFrom = { step: s.step, seconds: s.elapsedSeconds };
    else if (Number.isFinite(budget) && RESIZE_AT.includes(s.step)) {
      const perStep = (s.elapsedSeconds - from.seconds) / (s.step - from.step);
      s.totalSteps = s.step + Math.max(0, Math.floor((budget - s.elapsedSeconds) / perStep));
      this.paceFrom = { step: s.step, seconds: s.elapsedSeconds };
      this.opts.onResize?.(s.totalSteps - this.startStep);
    }
    const done = s.step >= s.totalSteps || s.elapsedSeconds >= budget;
    const stop =
      this.interrupted ||
      (this.opts.stopAfter !== undefined && s.step - this.startStep >= this.opts.stopAfter);
    const due = this.opts.saveEvery
      ? s.step % this.opts.saveEvery === 0
      : performance.now() - this.lastSave > 120_000;
    if (done || stop || due) this.lastSave = performance.now();
    return { done, stop, save: done || stop || due };
  }

  /** Seconds this invocation has trained. */
  get seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  release(): void {
    process.removeListener("SIGINT", this.onSignal);
  }
}

/** The error for a loss that is no longer finite: where the last good checkpoint is, and what to try. */
export function nonFiniteLoss(
  loss: number,
  step: number,
  dir: string,
  saved: boolean,
  lr: number,
): UserError {
  const kept = saved ? `the last good checkpoint is in ${dir}` : "no checkpoint was written";
  return new UserError(
    `loss became ${loss} at step ${step + 1}; training stopped and ${kept}. Try a lower --lr (now ${lr}) or --max-grad-norm 1`,
  );
}
