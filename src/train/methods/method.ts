/**
 * A training method as one record: what it trains (a CLIP model on image-text pairs, or an image encoder on
 * images alone), its loss and the metrics it logs, its defaults, and any state it keeps beside the model.
 * The one loop (train/loop.ts) runs every method; the CLI and the library read defaults from these records,
 * so they cannot disagree. Adding a method is one file in this folder, listed in methods/index.ts.
 */
import type { Feed, Tensor } from "../../engine/index.js";
import type { AugmentConfig, AugmentPreset } from "../../image/augment.js";
import type { Similarity, TripletMiner } from "../../losses/index.js";
import type { CLIP } from "../../models/clip.js";
import type { ImageEncoder, ImageEncoderConfig } from "../../models/image-encoder.js";
import type { StepResult } from "../../nn/train-step.js";
import type { FileData } from "../../util/fs.js";

export type PairMethodName = "clip" | "siglip";
export type ImageMethodName = "simclr" | "moco" | "supcon" | "triplet";
export type MethodName = PairMethodName | ImageMethodName;

/** An augmentation preset, "crop" (SimCLR's random resized crop and nothing else), or a full config. */
export type MethodAugment = AugmentPreset | "crop" | AugmentConfig;

/** Settings every method has; each record gives its own defaults. */
export interface MethodDefaults {
  /** Model preset (models/presets.ts for pairs, models/image-encoder.ts for image methods). */
  preset: string;
  /** Passes over the data when neither epochs nor minutes are given. */
  epochs: number;
  batch: number;
  lr: number;
  weightDecay: number;
}

/** What the image-only methods share by default (each record adds its own loss settings). */
export const IMAGE_METHOD_DEFAULTS = {
  preset: "resnet-tiny",
  epochs: 10,
  batch: 128,
  lr: 1e-3,
  weightDecay: 1e-4,
} as const satisfies MethodDefaults;

/** What CLIP and SigLIP share by default: the tiny preset and open_clip's ViT optimizer settings. */
export const PAIR_METHOD_DEFAULTS = {
  preset: "tiny",
  epochs: 10,
  batch: 128,
  lr: 5e-4,
  fineTuneLr: 1e-5,
  weightDecay: 0.2,
  augment: "clip",
} as const satisfies MethodDefaults & { fineTuneLr: number; augment: AugmentPreset };

/** open_clip's AdamW betas and epsilon for ViT training. */
export const VIT_ADAM = { beta1: 0.9, beta2: 0.98, eps: 1e-6 } as const;

/** What a loss returns while the step is traced: the scalar loss and scalar metrics to log. */
export interface TracedLoss {
  loss: Tensor;
  metrics?: Record<string, Tensor>;
}

interface MethodBase {
  /** One line for help texts. */
  summary: string;
  /** AdamW's betas and epsilon (default 0.9, 0.999, 1e-8). */
  adam?: { beta1?: number; beta2?: number; eps?: number };
}

/** A method that trains a CLIP model (both towers) on image-text pairs. */
export interface PairMethod extends MethodBase {
  name: PairMethodName;
  family: "pairs";
  defaults: MethodDefaults & {
    /** Peak learning rate when fine-tuning pretrained weights (init). */
    fineTuneLr: number;
    /** The training images' augmentation preset. */
    augment: AugmentPreset;
  };
  /** The log logit scale a fresh model starts at (default CLIP's log(1/0.07)). */
  initLogitScale?: number;
  /**
   * Make a model fit this loss before training: SigLIP adds its bias (and resets a softmax-trained
   * temperature when fine-tuning); the softmax loss drops a bias. Returns lines to tell the user.
   */
  prepare(model: CLIP, start: "fresh" | "init" | "resume"): string[];
  /**
   * The loss on a batch's embeddings (image and text [B, D], from the model's towers; the loss reads only
   * its own parameters of the model, such as the temperature) and its metrics, traced once. Taking
   * embeddings, not pixels and tokens, lets accumulation (train/pairs.ts) embed the batch in parts.
   */
  loss(model: CLIP, image: Tensor, text: Tensor): TracedLoss;
}

/** The options an image method may read beside the common ones. */
export interface ImageMethodSettings {
  temperature?: number;
  similarity?: Similarity;
  augment?: MethodAugment;
  margin?: number;
  miner?: TripletMiner;
  queue?: number;
  momentum?: number;
  /**
   * Augmented views of each image per step (supcon; default 2). With labels, one view suffices: the other
   * images of its class are its positives, and the step then holds twice the images for the same cost.
   */
  views?: number;
}

export type ImageMethodSetting = keyof ImageMethodSettings;

/** What an image method's loss sees while the step is traced. */
export interface ImageLossInputs {
  model: ImageEncoder;
  /** [V·N, 3, S, S], view-major (rows 0…N−1 are view 1); V = `views`. */
  images: Tensor;
  /** Class ids [N] (labelled methods). */
  labels?: Tensor;
  /** Samples per batch. */
  n: number;
  /** Views per sample (2 unless the method reads the `views` setting). */
  views: number;
  settings: ImageMethodSettings;
  /** The method's extra state (`extras`), if it has one. */
  extras?: MethodExtras;
  /** The graph inputs its extras declared (e.g. MoCo's queue). */
  extraInputs: Record<string, Tensor>;
}

/**
 * State an image method keeps beside the encoder and the optimizer (MoCo's key encoder and queue): its
 * extra graph inputs and feeds, what happens after each step, and how it is saved, restored and put back
 * after the dry runs that size a time-budgeted schedule.
 */
export interface MethodExtras {
  inputs: Record<string, { shape: readonly number[] }>;
  /** Called while tracing, before the loss: bind what enters the graph as inputs (key encoder weights). */
  trace(): void;
  feeds(): Record<string, Feed>;
  /** After the step's run (MoCo: enqueue the keys it returned as a metric, and drop that metric). */
  afterRun(r: StepResult): void;
  /** After the optimizer has updated the trained parameters (MoCo: the momentum update). */
  afterUpdate(): void;
  /** Its files for a checkpoint at `step`, by name. */
  files(step: number): Record<string, FileData>;
  /** Restore it from a checkpoint's folder. */
  load(folder: string, step: number): void;
  /** Remember the current state; the returned function puts it back. */
  snapshot(): () => void;
}

export interface ImageMethodContext {
  model: ImageEncoder;
  config: ImageEncoderConfig;
  batch: number;
  stepsPerEpoch: number;
  seed: number;
  settings: ImageMethodSettings;
}

/** A method that trains an image-only encoder (backbone + projection head) on images, two views each (supcon: `views`). */
export interface ImageMethod extends MethodBase {
  name: ImageMethodName;
  family: "images";
  defaults: MethodDefaults & { augment: MethodAugment } & ImageMethodSettings;
  /** Needs a class label per sample (field 'label'). */
  labelled: boolean;
  /** The settings this method reads; any other is refused. */
  settings: readonly ImageMethodSetting[];
  /** Check settings before anything is built (UserError naming the option). */
  check?(settings: ImageMethodSettings, batch: number): void;
  extras?(ctx: ImageMethodContext): MethodExtras;
  loss(inputs: ImageLossInputs): TracedLoss;
}

export type Method = PairMethod | ImageMethod;
