/**
 * A run's training data, read one of two ways. `cache`: every image decoded once into the pixel cache
 * (PixelStore) before the first step, the fastest for data that fits (the emoji set). `stream`: the data
 * set is counted once (read, not decoded), and each epoch streams it again, the shards in a seeded order
 * through a bounded shuffle buffer, images decoded in the loader's worker threads (data/stream-loader.ts),
 * so memory does not grow with the data set. `auto` (the default) streams when the pixel cache's estimated
 * size (a few images decoded as the cache would hold them, times the count) exceeds the cache limit.
 *
 * A run records how it reads its data (state.json's `loader`), and a resume reads it the same way, so its
 * batches are exactly an uninterrupted run's.
 */
import { totalmem } from "node:os";
import { Loader, type LoaderOptions, type TrainingLoader } from "../data/loader.js";
import { streamDataset } from "../data/open.js";
import type { DatasetOptions } from "../data/options.js";
import { shardOrder, shuffleStream } from "../data/shuffle.js";
import { StreamLoader } from "../data/stream-loader.js";
import { type Sample, SkipLog } from "../data/types.js";
import { Rng, streamKey } from "../engine/random.js";
import { decodeImage } from "../image/decode.js";
import { OptionError } from "../util/errors.js";
import { Progress, type ProgressStream } from "../util/progress.js";
import { loadTrainingSet } from "./run.js";

export const DATA_MODES = ["auto", "cache", "stream"] as const;
export type DataMode = (typeof DATA_MODES)[number];

/** The data options' defaults, read by train() and by the CLI's help alike. */
export const DATA_DEFAULTS = {
  mode: "auto" as DataMode,
  /** Samples the streamed loader's shuffle buffer holds (webdataset's usual order of magnitude). */
  shuffleBuffer: 1000,
  /** `auto` streams when the pixel cache would exceed this: 1 GiB, or an eighth of the memory if less. */
  cacheLimitBytes: Math.min(2 ** 30, Math.floor(totalmem() / 8)),
};

/** How a run reads its data, as state.json records it. */
export interface LoaderRecord {
  mode: "cache" | "stream";
  /** Samples in an epoch (streamed: the counting pass's). */
  samples: number;
  /** Streamed: the shuffle buffer's size. */
  shuffleBuffer?: number;
  /** Where the next batch starts: the epoch and its first sample's position in the epoch's stream. */
  position?: { epoch: number; sample: number };
}

/** Captions kept for training a tokenizer when the data is streamed (a seeded sample of them). */
const CAPTION_SAMPLE = 100_000;
/** Images decoded to estimate the pixel cache's size. */
const PROBE = 16;

/** What the trainers need to know of the data beyond its batches. */
export interface DataSummary {
  count: number;
  /** Samples without a caption, and the first one's origin. */
  uncaptioned: { count: number; first?: Sample["origin"] };
  unlabelled: { count: number; first?: Sample["origin"] };
  labels: Set<string>;
  /** Every caption (cached data), or a seeded sample of at most CAPTION_SAMPLE (streamed). */
  captions: string[];
  /** Whether `captions` holds them all. */
  allCaptions: boolean;
  /** UTF-8 bytes of the longest caption. */
  longestCaptionBytes: number;
}

class Summarizer {
  readonly s: DataSummary = {
    count: 0,
    uncaptioned: { count: 0 },
    unlabelled: { count: 0 },
    labels: new Set(),
    captions: [],
    allCaptions: true,
    longestCaptionBytes: 0,
  };
  private seen = 0;
  private readonly rng: Rng;

  constructor(
    seed: number,
    private readonly keep: number,
  ) {
    this.rng = new Rng(streamKey(seed, "caption-sample"));
  }

  add(sample: Sample): void {
    const s = this.s;
    s.count++;
    if (!sample.text) {
      s.uncaptioned.count++;
      s.uncaptioned.first ??= sample.origin;
    }
    if (sample.label === undefined || sample.label === "") {
      s.unlabelled.count++;
      s.unlabelled.first ??= sample.origin;
    } else s.labels.add(sample.label);
    for (const text of sample.captions ?? (sample.text ? [sample.text] : [])) {
      s.longestCaptionBytes = Math.max(s.longestCaptionBytes, Buffer.byteLength(text, "utf8"));
      // Reservoir sampling (Algorithm R): every caption equally likely to be kept, in bounded memory.
      const i = this.seen++;
      if (i < this.keep) s.captions.push(text);
      else {
        s.allCaptions = false;
        const j = this.rng.int(i + 1);
        if (j < this.keep) s.captions[j] = text;
      }
    }
  }
}

export interface TrainingDataOptions {
  dataset?: DatasetOptions;
  strict?: boolean;
  /** Training image side; images are held at 1.25 × it. */
  size: number;
  seed: number;
  stream: ProgressStream;
  mode?: DataMode;
  shuffleBuffer?: number;
  /** A resumed run's record: read the data the way the run did. */
  recorded?: LoaderRecord;
  /** The pixel cache's limit for `auto` (default DATA_DEFAULTS.cacheLimitBytes). */
  cacheLimitBytes?: number;
}

export interface TrainingData {
  summary: DataSummary;
  /** Inputs skipped so far (a streamed run adds images that fail to decode as it meets them). */
  log: SkipLog;
  record: LoaderRecord;
  /** The loader over this data: batches of `batchSize`, views and augmentation as given. */
  loader(opts: Omit<LoaderOptions, "size" | "seed">): TrainingLoader;
}

/** Read the run's data the way its mode (or, resumed, its record) says, and say which way and why. */
export async function openTrainingData(data: string, opts: TrainingDataOptions): Promise<TrainingData> {
  const say = (line: string) => opts.stream.write(`${line}\n`);
  const shuffleBuffer = opts.recorded?.shuffleBuffer ?? opts.shuffleBuffer ?? DATA_DEFAULTS.shuffleBuffer;
  if (!(Number.isInteger(shuffleBuffer) && shuffleBuffer >= 1))
    throw new OptionError(
      `{shuffleBuffer} must be a whole number of samples (1 or more), got ${shuffleBuffer}`,
    );
  const mode = opts.recorded?.mode ?? opts.mode ?? DATA_DEFAULTS.mode;
  if (!(DATA_MODES as readonly string[]).includes(mode))
    throw new OptionError(`{dataMode} must be one of ${DATA_MODES.join(", ")}, got '${mode}'`);
  const cacheSide = Math.round(opts.size * 1.25);
  if (mode === "cache") return cached(data, opts);

  // The counting pass: every sample read once (bad ones skipped and counted), none decoded.
  const log = new SkipLog(opts.strict ?? false);
  const summarizer = new Summarizer(opts.seed, CAPTION_SAMPLE);
  const probe: Sample[] = [];
  const counting = new Progress({ label: "count", stream: opts.stream, unit: "samples" });
  for await (const sample of streamDataset(data, opts.dataset ?? {}, log)) {
    summarizer.add(sample);
    if (probe.length < PROBE) probe.push(sample);
    counting.tick(1);
  }
  counting.done();
  const summary = summarizer.s;
  const estimate = await cacheEstimate(probe, summary.count, cacheSide);
  const limit = opts.cacheLimitBytes ?? DATA_DEFAULTS.cacheLimitBytes;
  if (mode === "auto") {
    const why = `${summary.count.toLocaleString("en")} samples, a pixel cache of about ${formatBytes(estimate)} (limit ${formatBytes(limit)})`;
    if (estimate <= limit) {
      say(`data: decoding into the pixel cache (${why})`);
      return cached(data, opts);
    }
    say(`data: streaming, decoded batch by batch in the loader's workers (${why})`);
  } else say(`data: streaming ${summary.count.toLocaleString("en")} samples (--data-mode stream)`);
  if (opts.recorded && opts.recorded.samples !== summary.count)
    throw new OptionError(
      `{resume}: ${data} now holds ${summary.count} samples, the run streamed ${opts.recorded.samples}; a streamed run resumes only on the same data`,
    );
  if (log.total > 0) say(log.summary());
  const dataset = opts.dataset ?? {};
  const epochStream = (epoch: number, skip: number) =>
    shuffleStream(
      // The counting pass logged these stream's skips already.
      streamDataset(data, dataset, new SkipLog(), (files) => shardOrder(files, opts.seed, epoch)),
      { size: shuffleBuffer, seed: opts.seed, epoch, skip },
    );
  return {
    summary,
    log,
    record: { mode: "stream", samples: summary.count, shuffleBuffer },
    loader: (l) =>
      new StreamLoader(epochStream, {
        ...l,
        size: opts.size,
        seed: opts.seed,
        samples: summary.count,
        cacheSide,
        onSkip: (origin, reason) => log.add(origin, reason),
      }),
  };
}

/** Every image decoded once into the pixel cache (the kept samples, in order, summarized in full). */
async function cached(data: string, opts: TrainingDataOptions): Promise<TrainingData> {
  const { store, samples, log } = await loadTrainingSet(data, {
    dataset: opts.dataset,
    strict: opts.strict,
    size: opts.size,
    stream: opts.stream,
  });
  const summarizer = new Summarizer(opts.seed, Number.POSITIVE_INFINITY);
  for (const s of samples) summarizer.add(s);
  return {
    summary: summarizer.s,
    log,
    record: { mode: "cache", samples: samples.length },
    loader: (l) => new Loader(store, samples, { ...l, size: opts.size, seed: opts.seed }),
  };
}

/**
 * The pixel cache's size for `count` samples: the mean bytes of the probe's images decoded as the cache
 * holds them (shortest side at most `cacheSide`), times the count. Images that fail count as average.
 */
async function cacheEstimate(probe: readonly Sample[], count: number, cacheSide: number): Promise<number> {
  let bytes = 0;
  let decoded = 0;
  for (const s of probe) {
    const r = await decodeImage(s.image, { shortestSide: cacheSide });
    if (!r.ok) continue;
    bytes += r.image.data.length;
    decoded++;
  }
  const perImage = decoded > 0 ? bytes / decoded : cacheSide * cacheSide * 3;
  return Math.round(perImage * count);
}

/** 12 MB, 1.7 GB. */
function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

/** Where a run stands in its data after `step` steps: the epoch, and the next batch's first sample. */
export function dataPosition(step: number, loader: Pick<TrainingLoader, "stepsPerEpoch" | "batchSize">) {
  return {
    epoch: Math.floor(step / loader.stepsPerEpoch),
    sample: (step % loader.stepsPerEpoch) * loader.batchSize,
  };
}
