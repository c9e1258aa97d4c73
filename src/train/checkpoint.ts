/**
 * A training run's folder and its checkpoint:
 *
 *   RUN/model.safetensors      weights (OpenCLIP names), metadata { step }
 *   RUN/juxta.json             what the model is: architecture, config, preprocessing, tokenizer file
 *   RUN/tokenizer.json         the tokenizer (Hugging Face tokenizer.json layout)
 *   RUN/optimizer.safetensors  AdamW moments, metadata { step }
 *   RUN/state.json             where training stands (step, epoch, options), written last
 *   RUN/metrics.jsonl          one line per step
 *
 * Every file is written atomically (temp file + rename) and state.json goes last, so a crash leaves the
 * previous checkpoint readable; on resume the step recorded in each file must agree.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readSafetensors, type SafetensorsInput, writeSafetensors } from "../io/safetensors.js";
import type { Optimizer } from "../optim/index.js";
import { UserError } from "../util/errors.js";
import { writeJsonAtomic } from "../util/fs.js";

export const STATE_FILE = "state.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";

export interface TrainState {
  /** Steps completed. */
  step: number;
  /** Total steps the learning-rate schedule spans. */
  totalSteps: number;
  warmupSteps: number;
  /** Seconds of training so far (for --minutes budgets across resumes). */
  elapsedSeconds: number;
  /** The options the run was started with (a resume reuses them). */
  options: Record<string, unknown>;
  /**
   * Evaluations on the held-out set (part of elapsedSeconds): how many the cadence plans over the schedule
   * (fitted to a time budget), how many of those are done, and all runs (the one before step 1 included)
   * with their seconds.
   */
  evals?: { count?: number; done: number; runs: number; seconds: number };
  /** Seconds spent setting up (reading and decoding the data, tokenizer, compiling), all invocations. */
  setupSeconds?: number;
}

export function saveOptimizer(dir: string, opt: Optimizer): void {
  const s = opt.state();
  const tensors: Record<string, SafetensorsInput> = {};
  for (const [name, data] of Object.entries(s.tensors))
    tensors[name] = { dtype: "F32", shape: [data.length], data };
  writeSafetensors(join(dir, OPTIMIZER_FILE), tensors, { step: String(s.step) });
}

export function loadOptimizer(dir: string, opt: Optimizer, expectStep: number): void {
  const path = join(dir, OPTIMIZER_FILE);
  const { tensors, metadata } = readSafetensors(path);
  const step = Number(metadata.step);
  if (step !== expectStep)
    throw new UserError(
      `${path}: holds step ${metadata.step}, ${STATE_FILE} says ${expectStep}; the checkpoint is inconsistent`,
    );
  const data: Record<string, Float32Array> = {};
  for (const [name, t] of tensors) data[name] = t.data as Float32Array;
  try {
    opt.loadState({ step, tensors: data });
  } catch (e) {
    throw new UserError(`${path}: ${(e as Error).message}`);
  }
}

export function saveState(dir: string, state: TrainState): void {
  writeJsonAtomic(join(dir, STATE_FILE), state);
}

export function readState(dir: string): TrainState | undefined {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) return undefined;
  let state: TrainState;
  try {
    state = JSON.parse(readFileSync(path, "utf8")) as TrainState;
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  for (const key of ["step", "totalSteps", "warmupSteps", "elapsedSeconds"] as const)
    if (typeof state[key] !== "number") throw new UserError(`${path}: field '${key}' must be a number`);
  if (typeof state.options !== "object" || state.options === null)
    throw new UserError(`${path}: field 'options' must be an object`);
  return state;
}
