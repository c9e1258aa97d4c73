/**
 * What a method's loss machinery costs on top of the encoder: the time of one compiled method step against
 * a step that runs the same encoder forward and backward on the same 2N images with a trivial loss
 * (mean of squared projections). Pixels are random; both steps alternate so drift in machine load hits
 * both alike; the median over the timed repetitions is reported.
 */
import { fillNormal, streamKey } from "../engine/random.js";
import { ImageEncoder, type ImageEncoderPreset, imageEncoderConfig } from "../models/image-encoder.js";
import { TrainStep } from "../nn/train-step.js";
import { createMethodStep } from "../train/images.js";
import { type ImageMethodName, METHODS } from "../train/methods/index.js";
import { methodSettings } from "../train/options.js";

export interface OverheadOptions {
  method: ImageMethodName;
  preset: ImageEncoderPreset;
  /** Samples per batch (2N images). */
  batch: number;
  /** Timed repetitions of each step (default 10) after one untimed warm-up run each. */
  repeats?: number;
  threads?: number;
}

export interface OverheadResult {
  method: ImageMethodName;
  preset: ImageEncoderPreset;
  batch: number;
  /** Median milliseconds of one method step (MoCo: including the queue update and the momentum update). */
  methodMs: number;
  /** Median milliseconds of the encoder's forward + backward on 2N images with a trivial loss. */
  baselineMs: number;
  /** methodMs / baselineMs. */
  ratio: number;
}

export async function measureMethodOverhead(opts: OverheadOptions): Promise<OverheadResult> {
  const cfg = imageEncoderConfig(opts.preset);
  const model = new ImageEncoder(cfg).initialize(0);
  const n = opts.batch;
  const s = model.imageSize;
  const session = opts.threads ? { threads: opts.threads } : undefined;
  const pixels = fillNormal(new Float32Array(2 * n * 3 * s * s), streamKey("overhead")) as Float32Array;
  const labels = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 4));
  const method = METHODS[opts.method];
  const settings = methodSettings(method, { queue: n * 8 });
  const extras = method.extras?.({ model, config: cfg, batch: n, stepsPerEpoch: 9, seed: 0, settings });
  const step = await createMethodStep(method, model, { batch: n, settings, extras, session });
  const baseline = await TrainStep.create({
    model,
    inputs: { images: { shape: [2 * n, 3, s, s] } },
    loss: ({ images }) => ({ loss: model.forward(images!).square().mean() }),
    session,
  });
  const feeds = { pixels, labels: method.labelled ? labels : undefined };
  const repeats = opts.repeats ?? 10;
  const methodTimes: number[] = [];
  const baseTimes: number[] = [];
  try {
    for (let r = -1; r < repeats; r++) {
      let t = performance.now();
      await step.run(feeds, 0);
      step.afterUpdate();
      if (r >= 0) methodTimes.push(performance.now() - t);
      t = performance.now();
      await baseline.run({ images: pixels }, 0);
      if (r >= 0) baseTimes.push(performance.now() - t);
    }
  } finally {
    await step.release();
    await baseline.release();
  }
  const methodMs = median(methodTimes);
  const baselineMs = median(baseTimes);
  return {
    method: opts.method,
    preset: opts.preset,
    batch: n,
    methodMs,
    baselineMs,
    ratio: methodMs / baselineMs,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
