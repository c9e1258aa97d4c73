/**
 * Image-only models for self-supervised and metric learning: a backbone (CLIP's ViT tower with its
 * projection, or a small ResNet) followed by a projection head (Linear → ReLU → Linear, as SimCLR). The
 * losses see the head's output; kNN and linear probes use the backbone's output, before the head, as is
 * standard. A saved model is a run folder holding `model.safetensors` and `juxta.json` with
 * `"architecture": "image-encoder"` (same conventions as saved.ts), plus the class list when the run
 * trained on labels.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { compile, input, Session, type SessionOptions, type Tensor } from "../engine/index.js";
import { CLIP_MEAN, CLIP_STD } from "../image/augment.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { bind, MLP, Module, stateDict } from "../nn/index.js";
import { UserError } from "../util/errors.js";
import { writeJsonAtomic } from "../util/fs.js";
import { PRESETS as CLIP_PRESETS } from "./presets.js";
import { ResNet, type ResNetConfig } from "./resnet.js";
import { CONFIG_FILE, MODEL_FILE, type Preprocess } from "./saved.js";
import { type VisionConfig, VisionTransformer } from "./vit.js";
import { loadWeights, weightsOf } from "./weights.js";

/** CLIP's vision tower and the size of its projection (the feature dimension). */
export type VitBackboneConfig = VisionConfig & { embedDim: number };

export interface ImageEncoderConfig {
  backbone: ResNetConfig | VitBackboneConfig;
  /** Projection head: hidden width and output dimension. */
  head: { hidden: number; out: number };
}

const tinyVit = CLIP_PRESETS.tiny;

export const IMAGE_ENCODER_PRESETS = {
  /** 0.33 M parameters; 32 px; CIFAR-style ResNet-10 at an eighth of the width. For quick experiments. */
  "resnet-tiny": {
    backbone: {
      type: "resnet",
      imageSize: 32,
      stemStride: 1,
      widths: [16, 32, 64, 128],
      blocks: [1, 1, 1, 1],
    },
    head: { hidden: 128, out: 64 },
  },
  /** 1.3 M parameters; 64 px with a stride-2 stem, so its feature maps have resnet-tiny's sizes. */
  "resnet-small": {
    backbone: {
      type: "resnet",
      imageSize: 64,
      stemStride: 2,
      widths: [32, 64, 128, 256],
      blocks: [1, 1, 1, 1],
    },
    head: { hidden: 256, out: 128 },
  },
  /** The vision tower of CLIP's `tiny` preset (64 px, patch 8, width 256, 6 layers) with its projection. */
  "vit-tiny": {
    backbone: { ...tinyVit.vision, embedDim: tinyVit.embedDim },
    head: { hidden: tinyVit.embedDim, out: 128 },
  },
} as const satisfies Record<string, ImageEncoderConfig>;

export type ImageEncoderPreset = keyof typeof IMAGE_ENCODER_PRESETS;

export function imageEncoderConfig(name: string): ImageEncoderConfig {
  const cfg = (IMAGE_ENCODER_PRESETS as Record<string, ImageEncoderConfig>)[name];
  if (!cfg)
    throw new UserError(
      `unknown image encoder preset '${name}'; choose one of ${Object.keys(IMAGE_ENCODER_PRESETS).join(", ")}`,
    );
  return structuredClone(cfg) as ImageEncoderConfig;
}

export class ImageEncoder extends Module {
  backbone: ResNet | VisionTransformer;
  head: MLP;

  constructor(readonly cfg: ImageEncoderConfig) {
    super();
    const b = cfg.backbone;
    this.backbone = b.type === "resnet" ? new ResNet(b) : new VisionTransformer(b, b.embedDim);
    this.head = new MLP(this.featureDim, cfg.head.hidden, "relu", cfg.head.out);
  }

  get imageSize(): number {
    return this.cfg.backbone.imageSize;
  }

  /** Size of the backbone's output (what kNN and linear probes see). */
  get featureDim(): number {
    const b = this.cfg.backbone;
    return b.type === "resnet" ? (b.widths[b.widths.length - 1] as number) : b.embedDim;
  }

  /** [B, 3, S, S] → backbone features [B, featureDim]. */
  features(images: Tensor): Tensor {
    return this.backbone.forward(images);
  }

  /** [B, 3, S, S] → projections [B, head.out] (not normalized): what the training losses compare. */
  forward(images: Tensor): Tensor {
    return this.head.forward(this.features(images));
  }
}

export interface SavedImageEncoderConfig {
  format: "juxta";
  version: 1;
  architecture: "image-encoder";
  preset?: string;
  /** The training method that produced the weights (simclr, moco, supcon, triplet). */
  method?: string;
  model: ImageEncoderConfig;
  preprocess: Preprocess;
  /** Class names by label id, when the run trained on labels (sorted label strings). */
  classes?: string[];
  /** Training steps behind these weights. */
  step: number;
}

export interface LoadedImageEncoder {
  model: ImageEncoder;
  preprocess: Preprocess;
  config: SavedImageEncoderConfig;
  dir: string;
}

export function defaultImagePreprocess(cfg: ImageEncoderConfig): Preprocess {
  return { imageSize: cfg.backbone.imageSize, mean: CLIP_MEAN, std: CLIP_STD };
}

export function saveImageEncoder(
  dir: string,
  model: ImageEncoder,
  opts: { step: number; preset?: string; method?: string; classes?: string[]; preprocess?: Preprocess },
): void {
  writeSafetensors(join(dir, MODEL_FILE), weightsOf(model), { format: "pt", step: String(opts.step) });
  const config: SavedImageEncoderConfig = {
    format: "juxta",
    version: 1,
    architecture: "image-encoder",
    preset: opts.preset,
    method: opts.method,
    model: model.cfg,
    preprocess: opts.preprocess ?? defaultImagePreprocess(model.cfg),
    classes: opts.classes,
    step: opts.step,
  };
  writeJsonAtomic(join(dir, CONFIG_FILE), config);
}

/** Whether `dir` holds a saved image encoder (for callers that dispatch on the architecture). */
export function isImageEncoderDir(dir: string): boolean {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) return false;
  try {
    return (
      (JSON.parse(readFileSync(path, "utf8")) as { architecture?: unknown }).architecture === "image-encoder"
    );
  } catch {
    return false;
  }
}

export function loadImageEncoder(dir: string): LoadedImageEncoder {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UserError(`model folder '${dir}' does not exist (expected a folder written by juxta train)`);
  const configPath = join(dir, CONFIG_FILE);
  if (!existsSync(configPath))
    throw new UserError(`${dir}: no ${CONFIG_FILE} here; this is not a Juxta model folder`);
  let config: SavedImageEncoderConfig;
  try {
    config = JSON.parse(readFileSync(configPath, "utf8")) as SavedImageEncoderConfig;
  } catch (e) {
    throw new UserError(`${configPath}: not valid JSON (${(e as Error).message})`);
  }
  if (
    config.format !== "juxta" ||
    config.architecture !== "image-encoder" ||
    typeof config.model !== "object"
  )
    throw new UserError(
      `${configPath}: expected {"format": "juxta", "architecture": "image-encoder", "model": {...}}`,
    );
  let model: ImageEncoder;
  try {
    model = new ImageEncoder(config.model);
  } catch (e) {
    throw new UserError(
      `${configPath}: field 'model' is not a valid image encoder config (${(e as Error).message})`,
    );
  }
  const weightsPath = join(dir, MODEL_FILE);
  if (!existsSync(weightsPath)) throw new UserError(`${dir}: ${MODEL_FILE} is missing`);
  loadWeights(model, readSafetensors(weightsPath).tensors, weightsPath);
  return { model, preprocess: config.preprocess ?? defaultImagePreprocess(config.model), config, dir };
}

/**
 * An inference graph pixels → backbone features (eval mode: BatchNorm uses its running statistics), with a
 * symbolic batch and the weights baked in; inputs are encoded in chunks so memory stays bounded.
 */
export class ImageFeatureEncoder {
  private constructor(
    private readonly session: Session,
    readonly imageSize: number,
    readonly featureDim: number,
    readonly chunk: number,
  ) {}

  static async create(
    model: ImageEncoder,
    opts: { chunk?: number; session?: SessionOptions } = {},
  ): Promise<ImageFeatureEncoder> {
    const wasTraining = model.training;
    model.eval();
    bind(model);
    const s = model.imageSize;
    const pixels = input("pixel_values", ["batch", 3, s, s]);
    const graph = compile(
      { features: model.features(pixels) },
      { freeze: stateDict(model), name: "features" },
    );
    model.train(wasTraining);
    const session = await Session.create(graph, opts.session);
    return new ImageFeatureEncoder(session, s, model.featureDim, opts.chunk ?? 128);
  }

  /** Normalized pixels [n, 3, S, S] → features [n, featureDim]. */
  async encode(pixels: Float32Array): Promise<Float32Array> {
    const s = this.imageSize;
    const row = 3 * s * s;
    if (pixels.length % row !== 0)
      throw new Error(`pixels: length ${pixels.length} is not a multiple of 3·${s}·${s}`);
    const n = pixels.length / row;
    const d = this.featureDim;
    const out = new Float32Array(n * d);
    for (let start = 0; start < n; start += this.chunk) {
      const rows = Math.min(this.chunk, n - start);
      const res = await this.session.run({
        pixel_values: { data: pixels.subarray(start * row, (start + rows) * row), dims: [rows, 3, s, s] },
      });
      out.set(res.features!.data as Float32Array, start * d);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
