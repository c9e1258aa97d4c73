/**
 * A training run's folder and its checkpoints, as generations:
 *
 *   RUN/checkpoint.json               which checkpoint is current: its folder, step, and each file's size
 *                                     and sha256 (the one atomic step: a rename of this small file)
 *   RUN/checkpoints/gen-NNNNNN/       one complete checkpoint: model.safetensors (metadata { step }),
 *                                     juxta.json, tokenizer.json (pairs), optimizer.safetensors (AdamW
 *                                     moments, { step }), the method's own state (moco.safetensors), and
 *                                     state.json (where training stands: step, schedule, options, data)
 *   RUN/model.safetensors, juxta.json, tokenizer.json, moco.safetensors, state.json
 *                                     the current checkpoint's files but the optimizer's, hard links to them (copies where
 *                                     the file system has no links), so every reader of a model folder
 *                                     (openModel, eval, embed, export, report, index) reads the run as before
 *   RUN/metrics.jsonl, evals.jsonl    one line per step / evaluation, cut back to the checkpoint on resume
 *
 * A checkpoint is written whole into a new folder no reader looks at (each file flushed), then made current
 * by renaming a new checkpoint.json over the old one; the previous checkpoint stays until then and is
 * removed after. A kill at any write or rename leaves the previous checkpoint current or the new one, never
 * a mix; the next run removes what a killed one left (a partial folder, temporary files) and repairs the
 * model view. Loading checks every file against checkpoint.json (size, sha256) and the step each records.
 */
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import { encodeSafetensors, readSafetensors } from "../io/safetensors.js";
import { CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE } from "../models/saved.js";
import type { Optimizer } from "../optim/index.js";
import { inputError, jsonErrorMessage, UserError } from "../util/errors.js";
import {
  ensureDir,
  type FileData,
  isSystemError,
  syncDir,
  systemErrorReason,
  writeNewFile,
} from "../util/fs.js";
import type { LoaderRecord } from "./data.js";
import type { DataFingerprint } from "./data-fingerprint.js";

export const STATE_FILE = "state.json";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const POINTER_FILE = "checkpoint.json";
export const CHECKPOINTS = "checkpoints";
const POINTER_TMP = ".checkpoint.json.tmp";
const FORMAT = "juxta-checkpoint";
const GEN = /^gen-(\d{6,})$/;
/**
 * The current checkpoint's files that the run folder shows at its top: all but the optimizer's moments
 * (only a resume reads them, from the checkpoint), the model first and state.json last.
 */
function viewFiles(folder: string): string[] {
  const first = [MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE];
  const rest = readdirSync(folder).filter((n) => ![...first, STATE_FILE, OPTIMIZER_FILE].includes(n));
  return [...first, ...rest.sort(), STATE_FILE].filter((n) => existsSync(join(folder, n)));
}

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
  /** The training data as it was when the run started: absolute path and fingerprint. */
  data?: DataFingerprint;
  /** How the run reads its data (cached or streamed) and where its next batch starts (train/data.ts). */
  loader?: LoaderRecord;
}

/** A checkpoint found in a run folder. */
export interface Checkpoint {
  state: TrainState;
  /** The folder holding its files: RUN/checkpoints/gen-N, or RUN itself for runs from before generations. */
  folder: string;
  generation: number;
}

interface Pointer {
  format: string;
  generation: number;
  step: number;
  folder: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

function genName(n: number): string {
  return `gen-${String(n).padStart(6, "0")}`;
}

export function optimizerFile(opt: Optimizer): FileData {
  const s = opt.state();
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const [name, data] of Object.entries(s.tensors))
    tensors[name] = { dtype: "F32", shape: [data.length], data };
  return encodeSafetensors(tensors, { step: String(s.step) }, OPTIMIZER_FILE);
}

export function loadOptimizer(folder: string, opt: Optimizer, expectStep: number): void {
  const path = join(folder, OPTIMIZER_FILE);
  if (!existsSync(path)) throw new UserError(`${path} is missing; the checkpoint is incomplete`);
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

function sha256(data: FileData): string {
  const h = createHash("sha256");
  if (typeof data === "string" || data instanceof Uint8Array) h.update(data);
  else for (const chunk of data) h.update(chunk);
  return h.digest("hex");
}

function byteLength(data: FileData): number {
  if (typeof data === "string") return Buffer.byteLength(data, "utf8");
  if (data instanceof Uint8Array) return data.byteLength;
  return data.reduce((n, c) => n + c.byteLength, 0);
}

/** The current checkpoint's pointer, checked; undefined when the folder has none. */
function readPointer(dir: string): Pointer | undefined {
  const file = join(dir, POINTER_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  let p: Pointer;
  try {
    p = JSON.parse(text) as Pointer;
  } catch {
    throw inputError({ file }, "not valid JSON; the checkpoint pointer is damaged");
  }
  if (p === null || typeof p !== "object" || p.format !== FORMAT)
    throw inputError({ file, field: "format" }, `expected '${FORMAT}'`);
  if (
    !Number.isInteger(p.generation) ||
    p.generation < 1 ||
    p.folder !== join(CHECKPOINTS, genName(p.generation))
  )
    throw inputError({ file, field: "folder" }, `expected ${CHECKPOINTS}/gen-NNNNNN matching 'generation'`);
  if (!Number.isInteger(p.step) || p.step < 0)
    throw inputError({ file, field: "step" }, "expected an integer ≥ 0");
  if (p.files === null || typeof p.files !== "object" || !(STATE_FILE in p.files))
    throw inputError({ file, field: "files" }, `expected the checkpoint's files, ${STATE_FILE} among them`);
  return p;
}

/**
 * The run's newest complete checkpoint (the one checkpoint.json names), every file checked against the
 * sizes and hashes recorded there; a run folder from before generations (state.json at its top) is read
 * as it is. Undefined when the folder holds no checkpoint.
 */
export function readCheckpoint(dir: string): Checkpoint | undefined {
  const p = readPointer(dir);
  if (!p) {
    const state = readStateFile(join(dir, STATE_FILE));
    return state ? { state, folder: dir, generation: 0 } : undefined;
  }
  const folder = join(dir, p.folder);
  for (const [name, want] of Object.entries(p.files)) {
    const path = join(folder, name);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      throw new UserError(
        `${path} is missing; ${join(dir, POINTER_FILE)} lists it (the checkpoint is damaged)`,
      );
    }
    if (bytes.byteLength !== want.bytes || sha256(bytes) !== want.sha256)
      throw new UserError(
        `${path}: its content differs from the sha256 ${join(dir, POINTER_FILE)} records (${bytes.byteLength} bytes, expected ${want.bytes}); the checkpoint was changed or damaged`,
      );
  }
  const state = readStateFile(join(folder, STATE_FILE)) as TrainState;
  if (state.step !== p.step)
    throw new UserError(
      `${join(folder, STATE_FILE)}: holds step ${state.step}, ${join(dir, POINTER_FILE)} says ${p.step}`,
    );
  return { state, folder, generation: p.generation };
}

/**
 * Write a checkpoint at `state.step` (`files` by name, state.json added last) as a new generation and make
 * it current; returns its folder. A throw (a full disk) leaves the previous checkpoint current.
 */
export function saveCheckpoint(dir: string, state: TrainState, files: Record<string, FileData>): string {
  const prior = readPointer(dir);
  removeStale(dir, prior?.generation ?? 0);
  const generation = (prior?.generation ?? 0) + 1;
  const rel = join(CHECKPOINTS, genName(generation));
  const folder = join(dir, rel);
  ensureDir(join(dir, CHECKPOINTS));
  const all: Record<string, FileData> = { ...files, [STATE_FILE]: `${JSON.stringify(state, null, 2)}\n` };
  const manifest: Pointer["files"] = {};
  try {
    mkdirSync(folder);
    for (const [name, data] of Object.entries(all)) {
      writeNewFile(join(folder, name), data);
      manifest[name] = { bytes: byteLength(data), sha256: sha256(data) };
    }
    syncDir(folder);
    const pointer: Pointer = { format: FORMAT, generation, step: state.step, folder: rel, files: manifest };
    writeNewFile(join(dir, POINTER_TMP), `${JSON.stringify(pointer, null, 2)}\n`);
  } catch (e) {
    rmSync(folder, { recursive: true, force: true });
    rmSync(join(dir, POINTER_TMP), { force: true });
    throw checkpointWriteError(dir, state.step, prior, e);
  }
  // The one atomic step: before this rename the previous checkpoint is current, after it this one.
  renameSync(join(dir, POINTER_TMP), join(dir, POINTER_FILE));
  syncDir(dir);
  showModel(dir, folder);
  if (prior) rmSync(join(dir, prior.folder), { recursive: true, force: true });
  // A run from before generations kept its checkpoint's other files at its top.
  else rmSync(join(dir, OPTIMIZER_FILE), { force: true });
  return folder;
}

/**
 * Make the run folder's top show the current checkpoint's model (after a commit, or to repair a view a
 * kill left half-updated): each file linked to a temporary name, then renamed over the old one.
 */
export function showModel(dir: string, folder = currentFolder(dir)): void {
  if (!folder || folder === dir) return;
  for (const name of viewFiles(folder)) {
    const src = join(folder, name);
    // Already linked (a repair after a kill): renaming a link over another of the same file does nothing.
    if (sameFile(src, join(dir, name))) continue;
    const tmp = join(dir, `.${name}.view`);
    rmSync(tmp, { force: true });
    try {
      linkSync(src, tmp);
    } catch {
      copyFileSync(src, tmp);
    }
    renameSync(tmp, join(dir, name));
  }
  syncDir(dir);
}

function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

function currentFolder(dir: string): string | undefined {
  const p = readPointer(dir);
  return p ? join(dir, p.folder) : undefined;
}

/**
 * Remove what killed runs left: generations other than the current one (partial, or superseded ones a
 * kill kept), the pointer's temporary file and the view's. Call at the start of a run and before a commit.
 */
export function removeStale(dir: string, current = readPointer(dir)?.generation ?? 0): void {
  const gens = join(dir, CHECKPOINTS);
  if (existsSync(gens))
    for (const name of readdirSync(gens)) {
      const m = GEN.exec(name);
      if (!m || Number(m[1]) !== current) rmSync(join(gens, name), { recursive: true, force: true });
    }
  for (const name of readdirSync(dir))
    if (name === POINTER_TMP || /^\..+\.view$/.test(name)) rmSync(join(dir, name), { force: true });
}

function checkpointWriteError(dir: string, step: number, prior: Pointer | undefined, e: unknown): unknown {
  const kept = prior
    ? `the checkpoint at step ${prior.step} (${join(dir, prior.folder)}) stays current`
    : "no earlier checkpoint exists";
  if (e instanceof UserError)
    return new UserError(`checkpoint at step ${step} not saved, ${e.message}; ${kept}`);
  if (isSystemError(e))
    return new UserError(
      `cannot write the checkpoint at step ${step} in ${dir}: ${systemErrorReason(e)}; ${kept}`,
    );
  return e;
}

function readStateFile(path: string): TrainState | undefined {
  if (!existsSync(path)) return undefined;
  let state: TrainState;
  try {
    state = JSON.parse(readFileSync(path, "utf8")) as TrainState;
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${jsonErrorMessage(e)})`);
  }
  for (const key of ["step", "totalSteps", "warmupSteps", "elapsedSeconds"] as const)
    if (typeof state[key] !== "number") throw new UserError(`${path}: field '${key}' must be a number`);
  if (typeof state.options !== "object" || state.options === null)
    throw new UserError(`${path}: field 'options' must be an object`);
  return state;
}

/** The run's current state (its newest checkpoint's, files unchecked), or undefined for a folder without one. */
export function readState(dir: string): TrainState | undefined {
  const p = readPointer(dir);
  return readStateFile(join(p ? join(dir, p.folder) : dir, STATE_FILE));
}
