/**
 * The training data loader: per-epoch seeded shuffles of a PixelStore's samples cut into batches, each
 * batch's views augmented in worker threads ahead of time (ONNX Runtime's session.run blocks the main
 * thread, so preparation cannot share it). A batch depends only on (seed, epoch, step), so iteration can
 * start at any step for an exact resume, and worker and synchronous modes give identical pixels.
 */
import { Rng, streamKey } from "../engine/random.js";
import {
  AUGMENT_PRESETS,
  type AugmentConfig,
  type AugmentPreset,
  CLIP_MEAN,
  CLIP_STD,
} from "../image/augment.js";
import { augmentBatch, type BatchSpec } from "../image/batch.js";
import type { RgbImage } from "../image/decode.js";
import { PixelStore } from "../image/store.js";
import { UserError } from "../util/errors.js";
import type { WorkerInit } from "./loader-worker.js";
import { WorkerPool } from "./pool.js";
import type { Sample } from "./types.js";

export interface LoaderOptions {
  batchSize: number;
  /** Side S of the square training images. */
  size: number;
  seed?: number;
  /** Drop the last, incomplete batch of each epoch (default true: contrastive losses want full batches). */
  dropLast?: boolean;
  /** Independent augmentations per sample: 1 for CLIP, 2 for SimCLR-style pairs. */
  views?: number;
  augment?: AugmentPreset | AugmentConfig;
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /** Worker threads preparing batches (default 2); 0 prepares each batch on the main thread when asked. */
  workers?: number;
  /** Batches prepared ahead of the consumer (default max(2, workers)). */
  prefetch?: number;
}

export interface Batch {
  epoch: number;
  step: number;
  /** Store/sample indices in batch order (streamed: the samples' positions in the epoch's stream). */
  indices: number[];
  /** [views · B, 3, S, S], view-major: rows v·B … v·B + B − 1 hold view v of the B samples. */
  pixels: Float32Array;
  /** Captions ("" where a sample has none). */
  texts: string[];
  labels: (string | undefined)[];
}

/** Batches in an epoch of `n` samples; a UserError when not even one batch fits. */
export function epochSteps(n: number, opts: LoaderOptions): number {
  if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) {
    throw new UserError(`batch size must be a positive integer, got ${opts.batchSize}`);
  }
  const dropLast = opts.dropLast ?? true;
  const steps = dropLast ? Math.floor(n / opts.batchSize) : Math.ceil(n / opts.batchSize);
  if (steps === 0) {
    throw new UserError(
      `the data set has ${n} usable sample${n === 1 ? "" : "s"}, fewer than one batch of ${opts.batchSize}` +
        (dropLast ? " (incomplete batches are dropped)" : ""),
    );
  }
  return steps;
}

/** The augmentation and normalization a batch gets (the loader options' defaults applied). */
export function batchSpec(opts: LoaderOptions): BatchSpec {
  const augment = opts.augment ?? "clip";
  return {
    size: opts.size,
    views: opts.views ?? 1,
    seed: opts.seed ?? 0,
    augment: typeof augment === "string" ? AUGMENT_PRESETS[augment] : augment,
    norm: { mean: opts.mean ?? CLIP_MEAN, std: opts.std ?? CLIP_STD },
  };
}

/** Batches prepared ahead of the consumer by default: enough to keep every worker busy. */
export function defaultPrefetch(opts: LoaderOptions): number {
  const workers = opts.workers ?? 2;
  return workers === 0 ? 0 : Math.max(1, opts.prefetch ?? Math.max(2, workers));
}

/**
 * What the training loop drives: the cached Loader (images decoded once into a PixelStore) or the
 * StreamLoader (images decoded batch by batch from a stream). Both start at any (epoch, step) and yield
 * exactly the batches an uninterrupted iteration yields from there.
 */
export interface TrainingLoader {
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  batches(startEpoch?: number, startStep?: number): AsyncGenerator<Batch, void, undefined>;
  close(): Promise<void>;
}

/**
 * A sample's caption in an epoch: its text, or, when it has several captions, one drawn by (seed, epoch,
 * sample index), so a batch's texts, like its pixels, depend only on where it is in the run (exact resumes).
 */
export function sampleCaption(s: Sample | undefined, seed: number, epoch: number, index: number): string {
  const captions = s?.captions;
  if (!captions || captions.length < 2) return s?.text ?? "";
  return captions[new Rng(streamKey(seed, "caption", epoch, index)).int(captions.length)] as string;
}

export class Loader implements TrainingLoader {
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  readonly views: number;
  private readonly spec: BatchSpec;
  private readonly prefetch: number;
  private readonly pool: WorkerPool;
  private orderCache: { epoch: number; order: Int32Array } | undefined;
  private closed = false;

  constructor(
    private readonly store: PixelStore,
    private readonly samples: readonly Sample[],
    opts: LoaderOptions,
  ) {
    if (store.length !== samples.length) {
      throw new Error(`pixel store has ${store.length} images but there are ${samples.length} samples`);
    }
    const n = samples.length;
    this.batchSize = opts.batchSize;
    this.stepsPerEpoch = epochSteps(n, opts);
    this.spec = batchSpec(opts);
    this.views = this.spec.views;
    this.prefetch = defaultPrefetch(opts);
    const init: WorkerInit = { store: store.data(), spec: this.spec };
    this.pool = new WorkerPool(init, opts.workers ?? 2);
  }

  /** The sample order of an epoch: a seeded permutation, the same wherever it is computed. */
  epochOrder(epoch: number): Int32Array {
    if (this.orderCache?.epoch !== epoch) {
      const order = Array.from({ length: this.samples.length }, (_, i) => i);
      new Rng(streamKey(this.spec.seed, "shuffle", epoch)).shuffle(order);
      this.orderCache = { epoch, order: Int32Array.from(order) };
    }
    return this.orderCache.order;
  }

  batchIndices(epoch: number, step: number): number[] {
    const order = this.epochOrder(epoch);
    const start = step * this.batchSize;
    return Array.from(order.subarray(start, Math.min(start + this.batchSize, order.length)));
  }

  private render(epoch: number, indices: number[]): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error("loader is closed"));
    if (this.pool.size === 0) return Promise.resolve(augmentBatch(this.store, this.spec, epoch, indices));
    return this.pool.run({ epoch, indices }).then((r) => r.pixels);
  }

  /**
   * Batches from (startEpoch, startStep) on, epoch after epoch without end (break out of the loop when done).
   * Starting mid-epoch yields exactly what an uninterrupted iteration yields from that step.
   */
  async *batches(startEpoch = 0, startStep = 0): AsyncGenerator<Batch, void, undefined> {
    if (!(Number.isInteger(startStep) && startStep >= 0 && startStep < this.stepsPerEpoch)) {
      throw new UserError(`resume step ${startStep} is outside the epoch's ${this.stepsPerEpoch} steps`);
    }
    let epoch = startEpoch;
    let step = startStep;
    const ahead: { epoch: number; step: number; indices: number[]; pixels: Promise<Float32Array> }[] = [];
    const enqueue = (): void => {
      const indices = this.batchIndices(epoch, step);
      ahead.push({ epoch, step, indices, pixels: this.render(epoch, indices) });
      if (++step === this.stepsPerEpoch) {
        step = 0;
        epoch++;
      }
    };
    try {
      for (;;) {
        if (ahead.length === 0) enqueue();
        while (ahead.length < this.prefetch) enqueue();
        const b = ahead.shift()!;
        const pixels = await b.pixels;
        yield {
          epoch: b.epoch,
          step: b.step,
          indices: b.indices,
          pixels,
          texts: b.indices.map((i) => sampleCaption(this.samples[i], this.spec.seed, b.epoch, i)),
          labels: b.indices.map((i) => this.samples[i]?.label),
        };
      }
    } finally {
      // Abandoned prefetches: nobody will await them, so their failure (e.g. on close) must not go unhandled.
      for (const b of ahead) b.pixels.catch(() => {});
    }
  }

  /** Stop the worker threads; batches still being prepared are abandoned. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool.close();
  }
}

export interface ThroughputOptions {
  /** Synthetic images in the store (random pixels, 4:3). */
  images?: number;
  size?: number;
  batchSize?: number;
  augment?: AugmentPreset;
  views?: number;
  workers?: number;
  /** Batches timed after `warmup` untimed ones. */
  batches?: number;
  warmup?: number;
}

export interface ThroughputResult {
  /** Samples per second, each with all its views augmented (an image–text pair, or a SimCLR pair). */
  pairsPerSec: number;
  imagesPerSec: number;
  batches: number;
  seconds: number;
  workers: number;
}

/**
 * How fast the loader produces batches when the consumer takes them immediately, on a synthetic store cached
 * at 1.25 × size (as training caches it).
 */
export async function measureLoaderThroughput(opts: ThroughputOptions = {}): Promise<ThroughputResult> {
  const size = opts.size ?? 64;
  const batchSize = opts.batchSize ?? 128;
  const n = opts.images ?? 4 * batchSize;
  const short = Math.round(1.25 * size);
  const long = Math.round((short * 4) / 3);
  const rng = new Rng(streamKey("throughput"));
  const images: RgbImage[] = [];
  for (let i = 0; i < n; i++) {
    const [width, height] = i % 2 ? [long, short] : [short, long];
    const data = new Uint8Array(width * height * 3);
    for (let j = 0; j < data.length; j++) data[j] = rng.int(256);
    images.push({ width, height, data });
  }
  const store = PixelStore.fromImages(images);
  const samples: Sample[] = images.map((_, i) => ({
    image: { kind: "bytes", bytes: new Uint8Array(0), name: `${i}` },
    origin: {},
  }));
  const workers = opts.workers ?? 2;
  const views = opts.views ?? 1;
  const loader = new Loader(store, samples, {
    batchSize,
    size,
    views,
    augment: opts.augment ?? "clip",
    workers,
  });
  const warmup = opts.warmup ?? 2;
  const timed = opts.batches ?? 20;
  try {
    let k = 0;
    let t0 = performance.now();
    for await (const _ of loader.batches()) {
      if (++k === warmup) t0 = performance.now();
      if (k === warmup + timed) break;
    }
    const seconds = (performance.now() - t0) / 1000;
    const pairsPerSec = (timed * batchSize) / seconds;
    return { pairsPerSec, imagesPerSec: pairsPerSec * views, batches: timed, seconds, workers };
  } finally {
    await loader.close();
  }
}
