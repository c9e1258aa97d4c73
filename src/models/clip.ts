/**
 * CLIP (Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", 2021):
 * an image tower and a text tower projected to one space, and a learned temperature `logit_scale`
 * (stored as a log, initialized to ln(1/0.07), its exponent clamped at 100).
 */
import type { Tensor } from "../engine/index.js";
import { l2Normalize, Module, Parameter } from "../nn/index.js";
import type { ResNetConfig } from "./resnet.js";
import { ResNetTower } from "./resnet-tower.js";
import { type TextConfig, TextTransformer } from "./text.js";
import { type VisionConfig, VisionTransformer } from "./vit.js";

export interface ClipConfig {
  embedDim: number;
  /** A ViT (OpenAI/OpenCLIP layout) or a small ResNet for 32-64 px images. */
  vision: VisionConfig | ResNetConfig;
  text: TextConfig;
  /** Initial temperature as ln(1/τ); default ln(1/0.07). */
  initLogitScale?: number;
}

export const MAX_LOGIT_SCALE = Math.log(100);

export class CLIP extends Module {
  visual: VisionTransformer | ResNetTower;
  text: TextTransformer;
  logit_scale: Parameter;

  constructor(readonly cfg: ClipConfig) {
    super();
    this.visual =
      cfg.vision.type === "resnet"
        ? new ResNetTower(cfg.vision, cfg.embedDim)
        : new VisionTransformer(cfg.vision, cfg.embedDim);
    this.text = new TextTransformer(cfg.text, cfg.embedDim);
    this.logit_scale = new Parameter(
      [],
      { kind: "constant", value: cfg.initLogitScale ?? Math.log(1 / 0.07) },
      false,
    );
  }

  encodeImage(images: Tensor, normalize = false): Tensor {
    const e = this.visual.forward(images);
    return normalize ? l2Normalize(e) : e;
  }

  encodeText(tokens: Tensor, normalize = false): Tensor {
    const e = this.text.forward(tokens);
    return normalize ? l2Normalize(e) : e;
  }

  /** exp(logit_scale) with the log clamped at ln 100, as a scalar tensor. */
  scale(): Tensor {
    return this.logit_scale.value.clip(undefined, MAX_LOGIT_SCALE).exp();
  }
}
