/**
 * Image-only models for self-supervised and metric learning: a backbone (CLIP's ViT tower with its
 * projection, or a small ResNet) followed by a projection head (Linear → ReLU → Linear, as SimCLR). The
 * losses see the head's output; kNN and linear probes use the backbone's output, before the head, as is
 * standard. saved.ts reads and writes their run folders (`"architecture": "image-encoder"`).
 */
import {
  compile,
  input,
  Session,
  type SessionOptions,
  type Tensor,
  type WeightFormat,
} from "../engine/index.js";
import { bind, MLP, Module, stateDict } from "../nn/index.js";
import { UserError } from "../util/errors.js";
import { PRESETS as CLIP_PRESETS, RESNET_64PX } from "./presets.js";
import { ResNet, type ResNetConfig } from "./resnet.js";
import { type VisionConfig, VisionTransformer } from "./vit.js";

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
    backbone: RESNET_64PX,
    head: { hidden: 256, out: 128 },
  },
  /** The vision tower of CLIP's `tiny` preset (64 px, patch 8, width 256, 6 layers) with its projection. */
  "vit-tiny": {
    backbone: { ...tinyVit.vision, embedDim: tinyVit.embedDim },
    head: { hidden: tinyVit.embedDim, out: 128 },
  },
} as const satisfies Record<string, ImageEncoderConfig>;

export type ImageEncoderPreset = keyof typeof IMAGE_ENCODER_PRESETS;

export function imageEncoderConfig(name: ImageEncoderPreset): ImageEncoderConfig {
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
    opts: { chunk?: number; session?: SessionOptions; weights?: WeightFormat } = {},
  ): Promise<ImageFeatureEncoder> {
    const wasTraining = model.training;
    model.eval();
    bind(model);
    const s = model.imageSize;
    const pixels = input("pixel_values", ["batch", 3, s, s]);
    const graph = compile(
      { features: model.features(pixels) },
      { freeze: stateDict(model), name: "features", weights: opts.weights },
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
