/**
 * The options of a training run: what every method takes, what each family adds, and how they become the
 * run's settings — defaults from the method's record for a new run, the recorded settings for a resume
 * (which must not be changed). Errors name the options as the API spells them (OptionError), and the CLI
 * re-phrases them with its flags.
 */

import { resolve } from "node:path";
import type { DatasetOptions } from "../data/options.js";
import type { SessionOptions } from "../engine/index.js";
import { AUGMENT_PRESETS, type AugmentConfig, type AugmentPreset } from "../image/augment.js";
import type { ClipConfig } from "../models/clip.js";
import type { ImageEncoderConfig, ImageEncoderPreset } from "../models/image-encoder.js";
import type { PresetName } from "../models/presets.js";
import { OptionError } from "../util/errors.js";
import type { ProgressStream } from "../util/progress.js";
import type { TrainState } from "./checkpoint.js";
import type { DataMode } from "./data.js";
import type {
  ImageMethod,
  ImageMethodName,
  ImageMethodSetting,
  ImageMethodSettings,
  Method,
  PairMethod,
  PairMethodName,
} from "./methods/index.js";
import { checkScheduleLength } from "./run.js";

export interface CommonTrainOptions {
  /** Manifest, folder or shard to train on (a resume reads it from the run). */
  data?: string;
  /** The run folder: model, checkpoint, metrics. */
  out: string;
  /** Model preset (default: the method's): a CLIP preset for pairs, an image-encoder preset otherwise. */
  preset?: PresetName | ImageEncoderPreset;
  epochs?: number;
  /**
   * The schedule's length in optimizer steps (instead of epochs or minutes): runs that differ only in the
   * machine's load then train alike, so experiments compare recipes, not loads.
   */
  steps?: number;
  /** Wall-clock budget for training and its evaluations; the schedule is sized from the measured pace. */
  minutes?: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  warmup?: number;
  seed?: number;
  /** Continue the run in `out` from its last checkpoint. */
  resume?: boolean;
  /**
   * On a resume, train on the run's data although it changed since the run started (its size or content
   * differs from the fingerprint the run recorded); without it such a resume is refused.
   */
  acceptChangedData?: boolean;
  /** Steps between checkpoints (default: about every 2 minutes' worth). */
  saveEvery?: number;
  maxGradNorm?: number;
  strict?: boolean;
  dataset?: DatasetOptions;
  /**
   * How the training images are read (default "auto"): "cache" decodes every image once into memory before
   * the first step, "stream" decodes them batch by batch in the loader's workers from a stream of the data
   * (memory does not grow with it), "auto" streams when the cache would exceed DATA_DEFAULTS.cacheLimitBytes.
   * A resumed run keeps its own.
   */
  dataMode?: DataMode;
  /** Streamed: samples the shuffle buffer holds (default DATA_DEFAULTS.shuffleBuffer); a resume keeps it. */
  shuffleBuffer?: number;
  workers?: number;
  /** ONNX Runtime options of the training step (threads). */
  session?: SessionOptions;
  /** Stop after this many steps in this invocation (a later resume continues); for tests and demos. */
  stopAfter?: number;
  /** Where progress and messages go (default stderr). */
  stream?: ProgressStream;
}

/** A CLIP model on image-text pairs (methods clip and siglip). */
export interface ClipTrainOptions extends CommonTrainOptions {
  method?: PairMethodName;
  preset?: PresetName;
  /** Model shapes, instead of a preset (programmatic use: small models in tests and experiments). */
  config?: ClipConfig;
  /** Start from these pretrained weights (a Juxta run, a Hugging Face or an OpenCLIP folder). */
  init?: string;
  /** Keep the image (LiT) or the text tower frozen. */
  lockImage?: boolean;
  lockText?: boolean;
  /** Evaluate on this held-out set (lines in RUN/evals.jsonl); every `evalEvery` steps if given. */
  evalData?: string;
  evalEvery?: number;
  /** Use this tokenizer.json instead of training one on the captions. */
  tokenizer?: string;
  /**
   * Micro-batches per step (open_clip's accum-freq, default 1): the contrastive batch is accumFreq × batch
   * pairs, in about the memory of `batch` (features cached, gradients recomputed per micro-batch; exact).
   */
  accumFreq?: number;
  /** The training images' augmentation (default "clip": OpenCLIP's crop of 90-100 % of the image). */
  augment?: AugmentPreset | AugmentConfig;
  /**
   * Patch dropout (FLIP, open_clip's patch_dropout): the share of a ViT image tower's patch tokens left
   * out of each training image, chosen anew every step (default 0; inference always sees every patch).
   */
  patchDropout?: number;
}

/** An image-only encoder (methods simclr, moco, supcon, triplet). */
export interface ImageMethodOptions extends CommonTrainOptions, ImageMethodSettings {
  /** Required to start a run; a resume takes the run's. */
  method?: ImageMethodName;
  preset?: ImageEncoderPreset;
  /** A custom encoder configuration instead of a preset. */
  encoder?: ImageEncoderConfig;
}

export type TrainOptions = ClipTrainOptions | ImageMethodOptions;

/** What defines a run (state.json's `options`). */
export interface CommonSettings {
  data: string;
  preset: string | undefined;
  epochs: number | undefined;
  /** Absent in runs from before the option existed. */
  steps?: number | undefined;
  minutes: number | undefined;
  batch: number;
  lr: number;
  weightDecay: number;
  warmup: number | undefined;
  seed: number;
  maxGradNorm: number | undefined;
}

export interface PairSettings extends CommonSettings {
  method: PairMethodName;
  config: ClipConfig | undefined;
  init: string | undefined;
  lockImage: boolean;
  lockText: boolean;
  accumFreq: number;
  augment: AugmentPreset | AugmentConfig;
  patchDropout: number;
}

export interface ImageSettings extends CommonSettings, ImageMethodSettings {
  method: ImageMethodName;
  encoder: ImageEncoderConfig | undefined;
}

const COMMON_KEYS = [
  "method",
  "data",
  "preset",
  "epochs",
  "steps",
  "minutes",
  "batch",
  "lr",
  "weightDecay",
  "warmup",
  "seed",
  "maxGradNorm",
] as const;
const PAIR_KEYS = [
  "config",
  "init",
  "lockImage",
  "lockText",
  "accumFreq",
  "augment",
  "patchDropout",
] as const;
/** Options only image-text training reads (beyond its settings; image methods read augment too). */
const PAIR_ONLY = [
  ...PAIR_KEYS.filter((k) => k !== "augment"),
  "evalData",
  "evalEvery",
  "tokenizer",
] as const;
const IMAGE_SETTINGS: readonly ImageMethodSetting[] = [
  "temperature",
  "similarity",
  "augment",
  "margin",
  "miner",
  "queue",
  "momentum",
  "views",
];

/** The settings keys that define a run of `method`. */
export function runKeys(method: Method): string[] {
  return method.family === "pairs"
    ? [...COMMON_KEYS, ...PAIR_KEYS]
    : [...COMMON_KEYS, "encoder", ...method.settings];
}

/** Refuse options that `method` does not read, saying which methods do. */
function checkApplicable(method: Method, opts: Record<string, unknown>): void {
  const foreign =
    method.family === "pairs"
      ? ["encoder", ...IMAGE_SETTINGS.filter((s) => s !== "augment")]
      : [...PAIR_ONLY, ...IMAGE_SETTINGS.filter((s) => !method.settings.includes(s))];
  for (const key of foreign) {
    if (opts[key] === undefined) continue;
    const readers = (PAIR_ONLY as readonly string[]).includes(key)
      ? "clip and siglip"
      : key === "encoder"
        ? "the image methods (simclr, moco, supcon, triplet)"
        : `the methods whose settings include it (${method.name} reads ${method.family === "images" ? method.settings.join(", ") : "none of them"})`;
    throw new OptionError(`{${key}} does not apply to method ${method.name}; it is for ${readers}`);
  }
}

/** The run's settings: a resume's recorded ones (unchanged), or the options with the method's defaults. */
export function resolveSettings(
  method: PairMethod,
  opts: ClipTrainOptions,
  prior: TrainState | undefined,
): PairSettings;
export function resolveSettings(
  method: ImageMethod,
  opts: ImageMethodOptions,
  prior: TrainState | undefined,
): ImageSettings;
export function resolveSettings(
  method: Method,
  opts: TrainOptions,
  prior: TrainState | undefined,
): PairSettings | ImageSettings {
  const given = opts as unknown as Record<string, unknown>;
  checkApplicable(method, given);
  if (prior) {
    // Runs from before SigLIP existed recorded no method, runs from before accumulation no accumFreq, and
    // runs from before CLIP's augmentation and patch dropout were options neither ("clip", none).
    const saved = {
      method: "clip",
      ...(method.family === "pairs" ? { accumFreq: 1, augment: "clip", patchDropout: 0 } : {}),
      ...prior.options,
    } as Record<string, unknown>;
    for (const k of runKeys(method)) {
      // Paths compare resolved: a run records its data's absolute path (older runs, the path as given).
      const value = k === "data" && typeof given[k] === "string" ? resolve(given[k] as string) : given[k];
      const was = k === "data" && typeof saved[k] === "string" ? resolve(saved[k] as string) : saved[k];
      if (value !== undefined && k !== "minutes" && JSON.stringify(value) !== JSON.stringify(was))
        throw new OptionError(
          `{resume}: {${k}} ${JSON.stringify(value)} differs from the run's ${JSON.stringify(was)}; a resumed run keeps its settings`,
        );
    }
    checkScheduleLength(
      saved.epochs as number | undefined,
      opts.minutes,
      true,
      saved.steps as number | undefined,
    );
    const minutes = opts.minutes ?? (saved.minutes as number | undefined);
    return { ...saved, minutes } as unknown as PairSettings | ImageSettings;
  }
  if (!opts.data) throw new OptionError(`{data} is required to start a run`);
  checkScheduleLength(opts.epochs, opts.minutes, false, opts.steps);
  if (opts.steps !== undefined && !(Number.isInteger(opts.steps) && opts.steps >= 1))
    throw new OptionError(`{steps} must be a whole number of steps (1 or more), got ${opts.steps}`);
  const d = method.defaults;
  const common: CommonSettings = {
    // Absolute, so that a resume from another working folder finds it.
    data: resolve(opts.data),
    preset: opts.preset ?? d.preset,
    epochs: opts.epochs ?? (opts.minutes === undefined && opts.steps === undefined ? d.epochs : undefined),
    steps: opts.steps,
    minutes: opts.minutes,
    batch: opts.batch ?? d.batch,
    lr: opts.lr ?? d.lr,
    weightDecay: opts.weightDecay ?? d.weightDecay,
    warmup: opts.warmup,
    seed: opts.seed ?? 0,
    maxGradNorm: opts.maxGradNorm,
  };
  if (method.family === "pairs") {
    const o = opts as ClipTrainOptions;
    if (o.init && (o.preset || o.config))
      throw new OptionError(`{init} takes its shapes from the pretrained model; drop {preset}`);
    const accumFreq = o.accumFreq ?? 1;
    if (!Number.isInteger(accumFreq) || accumFreq < 1)
      throw new OptionError(
        `{accumFreq} must be a whole number of micro-batches (1 or more), got ${accumFreq}`,
      );
    const patchDropout = o.patchDropout ?? 0;
    if (!(patchDropout >= 0 && patchDropout < 1))
      throw new OptionError(
        `{patchDropout} is the share of patches left out, in [0, 1); got ${patchDropout}`,
      );
    if (patchDropout > 0 && accumFreq > 1)
      throw new OptionError(`{patchDropout} does not combine with {accumFreq} yet; use one of them`);
    return {
      ...common,
      method: method.name,
      preset: o.config ? "custom" : o.init ? "init" : common.preset,
      patchDropout,
      config: o.config,
      init: o.init,
      lockImage: o.lockImage ?? false,
      lockText: o.lockText ?? false,
      accumFreq,
      augment: pairAugment(o.augment ?? method.defaults.augment),
      // Fine-tuning moves pretrained weights gently (OpenCLIP's fine-tuning recipes use 1e-5 to 5e-5).
      lr: opts.lr ?? (o.init ? method.defaults.fineTuneLr : common.lr),
    };
  }
  const o = opts as ImageMethodOptions;
  const settings = methodSettings(method, o);
  method.check?.(settings, common.batch);
  return {
    ...common,
    method: method.name,
    preset: o.encoder ? opts.preset : common.preset,
    encoder: o.encoder,
    ...settings,
  };
}

/**
 * The settings `method` reads, from `s` or else its defaults (also for resumed runs, which may have been
 * saved before a default existed).
 */
export function methodSettings(method: ImageMethod, s: ImageMethodSettings): ImageMethodSettings {
  const out: ImageMethodSettings = {};
  for (const key of method.settings) {
    const value = s[key] ?? method.defaults[key];
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** A pair method's augmentation: a preset by name, or a full config. */
function pairAugment(a: AugmentPreset | AugmentConfig): AugmentPreset | AugmentConfig {
  if (typeof a === "string" && !(a in AUGMENT_PRESETS))
    throw new OptionError(
      `{augment} for image-text pairs must be one of ${Object.keys(AUGMENT_PRESETS).join(", ")} (or a config), got '${a}'`,
    );
  return a;
}
