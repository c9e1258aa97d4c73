/**
 * The streamed training loader, for data sets larger than the pixel cache should hold: each epoch reads
 * its samples from a stream (the shards in a seeded order, shuffled through a bounded buffer: see
 * shuffle.ts), cuts them into batches, and each batch's encoded images go to a worker thread that decodes
 * and augments them. Memory holds the shuffle buffer, the batches in flight and their pixels, whatever the
 * data set's size.
 *
 * Batch `step` of an epoch holds the stream's samples at positions step·B … step·B + B − 1, and a sample's
 * augmentation and caption are drawn from (seed, epoch, position), so a run resumed at (epoch, step)
 * replays the epoch's stream up to step·B (reading, not decoding) and then sees exactly the batches an
 * uninterrupted run sees. An image that does not decode is replaced in its batch (decode-batch.ts) and
 * reported, which keeps every position in place.
 *
 *   const loader = new StreamLoader((epoch, skip) => epochStream(epoch, skip), {
 *     samples: 10_000, batchSize: 128, size: 64, cacheSide: 80, seed: 1 });
 *   for await (const batch of loader.batches()) …
 */
import type { BatchSpec } from "../image/batch.js";
import { inputError, type Location, UserError } from "../util/errors.js";
import { type DecodedBatch, type DecodeSpec, decodeBatch } from "./decode-batch.js";
import {
  type Batch,
  batchSpec,
  defaultPrefetch,
  epochSteps,
  type LoaderOptions,
  sampleCaption,
  type TrainingLoader,
} from "./loader.js";
import { WorkerPool } from "./pool.js";
import type { Sample } from "./types.js";

/** An epoch's samples in their training order, the first `skip` of them dropped (a resume's replay). */
export type EpochStream = (epoch: number, skip: number) => AsyncIterable<Sample>;

export interface StreamLoaderOptions extends LoaderOptions, DecodeSpec {
  /** Samples in an epoch's stream (counted beforehand: the schedule and the epochs' ends need it). */
  samples: number;
  /** A sample whose image did not decode (it is replaced in its batch); a strict log throws here. */
  onSkip?: (origin: Location, reason: string) => void;
}

interface Pending {
  epoch: number;
  step: number;
  positions: number[];
  samples: Pick<Sample, "text" | "captions" | "label" | "origin">[];
  result: Promise<DecodedBatch>;
}

export class StreamLoader implements TrainingLoader {
  readonly stepsPerEpoch: number;
  readonly batchSize: number;
  readonly views: number;
  private readonly spec: BatchSpec;
  private readonly decode: DecodeSpec;
  private readonly prefetch: number;
  private readonly pool: WorkerPool;
  private closed = false;

  constructor(
    private readonly open: EpochStream,
    private readonly opts: StreamLoaderOptions,
  ) {
    this.batchSize = opts.batchSize;
    this.stepsPerEpoch = epochSteps(opts.samples, opts);
    this.spec = batchSpec(opts);
    this.views = this.spec.views;
    this.decode = { cacheSide: opts.cacheSide, maxPixels: opts.maxPixels };
    // Two batches ahead per worker: while the main thread is blocked in a step, every worker has work.
    this.prefetch = Math.max(defaultPrefetch(opts), 2 * (opts.workers ?? 2));
    this.pool = new WorkerPool({ decode: this.decode, spec: this.spec }, opts.workers ?? 2);
  }

  private render(epoch: number, positions: number[], samples: Sample[]): Promise<DecodedBatch> {
    if (this.closed) return Promise.reject(new Error("loader is closed"));
    const images = samples.map((s) => s.image);
    if (this.pool.size === 0) return decodeBatch(images, positions, this.spec, epoch, this.decode);
    return this.pool
      .run({ epoch, indices: positions, images })
      .then((r) => ({ pixels: r.pixels, replaced: r.replaced ?? [] }));
  }

  /**
   * Batches from (startEpoch, startStep) on, epoch after epoch without end (break out of the loop when done).
   * Starting mid-epoch replays that epoch's stream to the step's first sample, so it yields exactly what an
   * uninterrupted iteration yields from there.
   */
  async *batches(startEpoch = 0, startStep = 0): AsyncGenerator<Batch, void, undefined> {
    if (!(Number.isInteger(startStep) && startStep >= 0 && startStep < this.stepsPerEpoch)) {
      throw new UserError(`resume step ${startStep} is outside the epoch's ${this.stepsPerEpoch} steps`);
    }
    const B = this.batchSize;
    let epoch = startEpoch;
    let step = startStep;
    let stream: AsyncIterator<Sample> | undefined;
    const ahead: Pending[] = [];
    const enqueue = async (): Promise<void> => {
      stream ??= this.open(epoch, step * B)[Symbol.asyncIterator]();
      const first = step * B;
      const count = Math.min(B, this.opts.samples - first);
      const samples: Sample[] = [];
      while (samples.length < count) {
        const r = await stream.next();
        if (r.done)
          throw new UserError(
            `epoch ${epoch + 1}'s data stream ended after ${first + samples.length} samples, but it held ${this.opts.samples} when counted; did the data change during the run?`,
          );
        samples.push(r.value);
      }
      const positions = samples.map((_, k) => first + k);
      const result = this.render(epoch, positions, samples);
      // Only what the batch's texts and labels need stays here; the images went to the worker.
      const kept = samples.map(({ text, captions, label, origin }) => ({ text, captions, label, origin }));
      ahead.push({ epoch, step, positions, samples: kept, result });
      if (++step === this.stepsPerEpoch) {
        await stream.return?.();
        stream = undefined;
        step = 0;
        epoch++;
      }
    };
    try {
      for (;;) {
        if (ahead.length === 0) await enqueue();
        while (ahead.length < this.prefetch) await enqueue();
        const b = ahead.shift() as Pending;
        const { pixels, replaced } = await b.result;
        if (pixels.length === 0) {
          const origin = b.samples[0]?.origin ?? {};
          throw inputError(
            origin,
            `no image of the ${b.samples.length} in epoch ${b.epoch + 1}'s batch ${b.step + 1} could be decoded`,
          );
        }
        const source = b.samples.map((_, k) => k);
        for (const r of replaced) {
          source[r.at] = r.by;
          this.opts.onSkip?.(
            b.samples[r.at]?.origin ?? {},
            `${r.reason} (replaced in its batch by another sample)`,
          );
        }
        yield {
          epoch: b.epoch,
          step: b.step,
          indices: b.positions,
          pixels,
          texts: source.map((j, k) =>
            sampleCaption(b.samples[j] as Sample, this.spec.seed, b.epoch, b.positions[k] as number),
          ),
          labels: source.map((j) => b.samples[j]?.label),
        };
      }
    } finally {
      // Abandoned prefetches: nobody will await them, so their failure (e.g. on close) must not go unhandled.
      for (const b of ahead) b.result.catch(() => {});
      await stream?.return?.();
    }
  }

  /** Stop the worker threads; batches still being prepared are abandoned. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool.close();
  }
}
