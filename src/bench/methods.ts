/**
 * What the image-only methods' loss machinery costs: per-step time of SimCLR and MoCo v2 against the same
 * encoder's plain forward + backward on the same 2N images (bench/overhead.ts), and their ratio.
 */

import type { ImageEncoderPreset } from "../models/image-encoder.js";
import type { ImageMethodName } from "../train/methods/index.js";
import { measureMethodOverhead } from "./overhead.js";
import { round } from "./timing.js";

export interface MethodsBenchOptions {
  /** Image encoder preset (default resnet-tiny). */
  preset?: ImageEncoderPreset;
  /** Samples per batch, 2N images per step (default 64). */
  batch?: number;
  /** Timed repetitions of each step (default 6). */
  repeats?: number;
}

export async function benchMethods(opts: MethodsBenchOptions = {}): Promise<Record<string, unknown>> {
  const preset = opts.preset ?? "resnet-tiny";
  const batch = opts.batch ?? 64;
  const repeats = opts.repeats ?? 6;
  const result: Record<string, unknown> = { suite: "methods", preset, batch, images_per_step: 2 * batch };
  for (const method of ["simclr", "moco"] as const satisfies readonly ImageMethodName[]) {
    const r = await measureMethodOverhead({ method, preset, batch, repeats });
    result[`${method}_step_ms`] = round(r.methodMs);
    result[`${method}_encoder_fwd_bwd_ms`] = round(r.baselineMs);
    result[`${method}_ratio`] = round(r.ratio, 3);
  }
  return result;
}
