/**
 * A small ResNet image tower for CLIP at 32-64 px (the ResNet of resnet.ts, globally pooled, then a linear
 * projection to the shared space). Cheaper than a ViT at these sizes; not OpenAI's ModifiedResNet (which has
 * an attention pool), so it has no Hugging Face or OpenCLIP counterpart.
 */
import type { Tensor } from "../engine/index.js";
import { Module, Parameter } from "../nn/index.js";
import { ResNet, type ResNetConfig } from "./resnet.js";

export class ResNetTower extends Module {
  trunk: ResNet;
  proj: Parameter;

  constructor(
    readonly cfg: ResNetConfig,
    readonly embedDim: number,
  ) {
    super();
    this.trunk = new ResNet(cfg);
    this.proj = new Parameter([this.trunk.featureDim, embedDim], {
      kind: "normal",
      std: this.trunk.featureDim ** -0.5,
    });
  }

  /** [B, 3, S, S] normalized pixels → [B, embed] (not normalized). */
  forward(images: Tensor): Tensor {
    return this.trunk.forward(images).matmul(this.proj.value);
  }
}
