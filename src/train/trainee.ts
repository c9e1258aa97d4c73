/**
 * What the one loop (train/loop.ts) drives: a family's model, data and compiled step for one invocation.
 * The image-text family (train/pairs.ts) and the image-only family (train/images.ts) each build one from a
 * method record; the loop does everything else (schedule, budget, checkpoints, metrics, progress).
 */
import type { Batch, TrainingLoader } from "../data/loader.js";
import type { DatasetOptions } from "../data/options.js";
import type { SessionOptions } from "../engine/index.js";
import type { Buffer, Parameter } from "../nn/module.js";
import type { StepResult } from "../nn/train-step.js";
import type { FileData } from "../util/fs.js";
import type { ProgressStream } from "../util/progress.js";
import type { TrainState } from "./checkpoint.js";
import type { DataMode, LoaderRecord } from "./data.js";
import type { SetupTimer } from "./run.js";

export interface Trainee {
  loader: TrainingLoader;
  /** How the loader reads the data (state.json's `loader`, which a resume follows). */
  data: LoaderRecord;
  /** The compiled step on a loader batch; `params` are the trained parameters, aligned with its gradients. */
  step: {
    params: Parameter[];
    run(batch: Batch, step: number): Promise<StepResult>;
    /** After the optimizer's update (MoCo's momentum update). */
    afterUpdate(): void;
    release(): Promise<void>;
  };
  /** The model's files (and the method's extra state) for a checkpoint at `step`, by name. */
  files(step: number): Record<string, FileData>;
  /** Remember what a dry run changes (BatchNorm statistics, MoCo's queue); the result puts it back. */
  snapshot(): () => void;
  /** The progress bar: its label, what it counts, and how many of those one step takes. */
  progress: { label: string; unit: string; perTick: number };
  /** Evaluation on the held-out set: flat values for evals.jsonl and the ones worth a progress line. */
  evaluate?: () => Promise<{
    values: Record<string, number>;
    shown: string[];
    /** More for the evals.jsonl line (counts and classes, from which a report draws chance levels). */
    details?: Record<string, unknown>;
  }>;
  /** Rows the readers skipped. */
  skipped: number;
  /** Class names by id (labelled methods). */
  classes?: string[];
}

/** What a family gets to build its trainee. */
export interface TraineeContext<O> {
  dir: string;
  /** The run's settings (resolved defaults, or the resumed run's). */
  settings: O;
  /** The checkpoint a resume continues from, and the folder holding its files. */
  prior?: TrainState;
  from?: string;
  setup: SetupTimer;
  stream: ProgressStream;
  say(line: string): void;
  dataset?: DatasetOptions;
  strict?: boolean;
  workers?: number;
  session?: SessionOptions;
  /** How to read the data: the options' mode and shuffle buffer, or a resumed run's record. */
  data: { mode?: DataMode; shuffleBuffer?: number; recorded?: LoaderRecord };
}

/** Remember the buffers' values (BatchNorm statistics); the result puts them back. */
export function snapshotBuffers(buffers: readonly Buffer[]): () => void {
  const saved = buffers.map((b) => b.data.slice());
  return () => {
    for (const [i, b] of buffers.entries()) b.data.set(saved[i] as Float32Array);
  };
}
