/**
 * Vision Transformer image tower (CLIP's): non-overlapping patches embedded by `conv1` (a convolution
 * whose stride equals its kernel, computed as one matmul over flattened patches), a class token, learned
 * positions, `ln_pre`, pre-LN blocks, `ln_post` on the class token, projection to the shared space.
 */
import { concat, type Dim, type Tensor } from "../engine/index.js";
import { Conv2d, LayerNorm, Module, Parameter } from "../nn/index.js";
import { Transformer, type TransformerConfig } from "./transformer.js";

export interface VisionConfig extends TransformerConfig {
  type: "vit";
  imageSize: number;
  patchSize: number;
}

export class VisionTransformer extends Module {
  conv1: Conv2d;
  class_embedding: Parameter;
  positional_embedding: Parameter;
  ln_pre: LayerNorm;
  transformer: Transformer;
  ln_post: LayerNorm;
  proj: Parameter;

  constructor(
    readonly cfg: VisionConfig,
    readonly embedDim: number,
  ) {
    super();
    const { width, patchSize: p, imageSize } = cfg;
    if (imageSize % p !== 0)
      throw new Error(`vit: image size ${imageSize} is not a multiple of patch size ${p}`);
    const grid = imageSize / p;
    const scale = width ** -0.5;
    this.conv1 = new Conv2d(3, width, p, { stride: p, bias: false });
    this.class_embedding = new Parameter([width], { kind: "normal", std: scale }, false);
    this.positional_embedding = new Parameter(
      [grid * grid + 1, width],
      { kind: "normal", std: scale },
      false,
    );
    this.ln_pre = new LayerNorm(width, cfg.lnEps);
    this.transformer = new Transformer(cfg, false);
    this.ln_post = new LayerNorm(width, cfg.lnEps);
    this.proj = new Parameter([width, embedDim], { kind: "normal", std: scale });
  }

  get tokens(): number {
    return (this.cfg.imageSize / this.cfg.patchSize) ** 2 + 1;
  }

  /**
   * [B, 3, S, S] normalized pixels → [B, embed] (not normalized). `keep` (training with patch dropout only,
   * models/patch-dropout.ts): int32 row indices into the [B × tokens] token rows, the class token and the
   * same number of patches for each image; the blocks then run on those tokens alone.
   */
  forward(images: Tensor, keep?: Tensor): Tensor {
    const { width } = this.cfg;
    const b = images.shape[0] as Dim;
    const x = embedPatches(images, this.conv1, this.cfg.imageSize);
    const cls = this.class_embedding.value.reshape([1, 1, width]).expand([b, 1, width]);
    let h = concat([cls, x], 1).add(this.positional_embedding.value);
    if (keep) {
      if (typeof b !== "number") throw new Error("vit: patch dropout needs a fixed batch size");
      const kept = (keep.shape[0] as number) / b;
      h = h
        .reshape([b * this.tokens, width])
        .gather(keep)
        .reshape([b, kept, width]);
    }
    const classToken = (t: Tensor) => t.slice(1, 0, 1).squeeze(1);
    const pooled = this.transformer.forward(this.ln_pre.forward(h), classToken);
    return this.ln_post.forward(pooled).matmul(this.proj.value);
  }
}

/**
 * Patch embedding: [B, 3, S, S] → [B, (S/p)², width], patches in row-major order (as Conv2d then flatten).
 * A stride-p p×p convolution is a matmul over non-overlapping patches: flatten each patch as a row (c, kh,
 * kw order, as the conv weight is laid out) and multiply once, which is faster than Conv and its gradient
 * (ConvTranspose) in ONNX Runtime. The conv's bias, when it has one, is added per channel.
 */
export function embedPatches(images: Tensor, conv: Conv2d, imageSize: number): Tensor {
  const p = conv.kernel;
  const g = imageSize / p;
  const b = images.shape[0] as Dim;
  const patches = images
    .reshape([b, 3, g, p, g, p])
    .transpose([0, 2, 4, 1, 3, 5])
    .reshape([b, g * g, 3 * p * p]);
  const x = patches.matmul(conv.weight.value.reshape([conv.outChannels, 3 * p * p]), { transB: true });
  return conv.bias ? x.add(conv.bias.value) : x;
}
