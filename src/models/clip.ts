/**
 * CLIP (Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", 2021):
 * an image tower and a text tower projected to one space, and a learned temperature `logit_scale`
 * (stored as a log, initialized to ln(1/0.07), its exponent clamped at 100). A model trained with SigLIP's
 * sigmoid loss also has a learned bias `logit_bias`, present when the config sets `initLogitBias` (as
 * open_clip's `init_logit_bias`), so it is saved and loaded with the other weights.
 */
import type { Tensor } from "../engine/index.js";
import { l2Normalize, Module, Parameter } from "../nn/index.js";
import { checkClipConfig } from "./config-check.js";
import type { ResNetConfig } from "./resnet.js";
import { ResNetTower } from "./resnet-tower.js";
import {
  type SiglipTextConfig,
  SiglipTextTower,
  type SiglipVisionConfig,
  SiglipVisionTower,
} from "./siglip.js";
import { type TextConfig, TextTransformer } from "./text.js";
import { type VisionConfig, VisionTransformer } from "./vit.js";

export interface ClipConfig {
  embedDim: number;
  /** A ViT (OpenAI/OpenCLIP layout), a small ResNet for 32-64 px images, or SigLIP's ViT (siglip.ts). */
  vision: VisionConfig | ResNetConfig | SiglipVisionConfig;
  /** CLIP's causal text Transformer, or SigLIP's bidirectional one (`type: "siglip"`). */
  text: TextConfig | SiglipTextConfig;
  /** Initial temperature as ln(1/τ); default ln(1/0.07). */
  initLogitScale?: number;
  /** SigLIP's bias b: when set, the model has the parameter `logit_bias`, initialized to this (−10 in SigLIP). */
  initLogitBias?: number;
}

export const MAX_LOGIT_SCALE = Math.log(100);

export class CLIP extends Module {
  visual: VisionTransformer | ResNetTower | SiglipVisionTower;
  text: TextTransformer | SiglipTextTower;
  logit_scale: Parameter;
  /** SigLIP's learned bias (only when `cfg.initLogitBias` is set). */
  logit_bias?: Parameter;

  constructor(readonly cfg: ClipConfig) {
    super();
    checkClipConfig(cfg, "CLIP config");
    this.visual = visionTower(cfg);
    this.text =
      "type" in cfg.text && cfg.text.type === "siglip"
        ? new SiglipTextTower(cfg.text, cfg.embedDim)
        : new TextTransformer(cfg.text, cfg.embedDim);
    this.logit_scale = new Parameter(
      [],
      { kind: "constant", value: cfg.initLogitScale ?? Math.log(1 / 0.07) },
      false,
    );
    if (cfg.initLogitBias !== undefined) this.logit_bias = biasParameter(cfg.initLogitBias);
  }

  /** Give the model SigLIP's bias (initialized to `value`) if it has none; returns the parameter. */
  addLogitBias(value: number): Parameter {
    if (!this.logit_bias) {
      this.cfg.initLogitBias = value;
      this.logit_bias = biasParameter(value);
    }
    return this.logit_bias;
  }

  /** Drop SigLIP's bias (a model trained on with the softmax loss has no use for it). */
  removeLogitBias(): void {
    delete this.cfg.initLogitBias;
    this.logit_bias = undefined;
  }

  /** `keep`: patch dropout's kept tokens (training a ViT tower only; see VisionTransformer.forward). */
  encodeImage(images: Tensor, normalize = false, keep?: Tensor): Tensor {
    if (keep && !(this.visual instanceof VisionTransformer))
      throw new Error("patch dropout needs a ViT image tower (OpenAI/OpenCLIP layout)");
    const e = keep ? (this.visual as VisionTransformer).forward(images, keep) : this.visual.forward(images);
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

function visionTower(cfg: ClipConfig): CLIP["visual"] {
  const v = cfg.vision;
  if (v.type === "resnet") return new ResNetTower(v, cfg.embedDim);
  if (v.type === "siglip") {
    // SigLIP's image embedding is its pooling head's output: the tower's width, with no projection.
    if (v.width !== cfg.embedDim)
      throw new Error(`siglip: the image tower's width ${v.width} must equal embedDim ${cfg.embedDim}`);
    return new SiglipVisionTower(v);
  }
  return new VisionTransformer(v, cfg.embedDim);
}

/** A scalar, not decayed, filled with `value` now (its init is constant, so any seed gives the same). */
function biasParameter(value: number): Parameter {
  const p = new Parameter([], { kind: "constant", value }, false);
  p.data[0] = value;
  return p;
}
