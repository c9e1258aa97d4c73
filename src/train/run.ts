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
