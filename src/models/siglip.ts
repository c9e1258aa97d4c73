/**
 * SigLIP's towers (Zhai et al., "Sigmoid Loss for Language Image Pre-Training", 2023), as Google's
 * big_vision models and Hugging Face's `SiglipModel` lay them out. Both towers use the shared pre-LN
 * Transformer blocks (transformer.ts) without a causal mask; what differs from CLIP's towers:
 *
 *   image  patch conv with a bias + learned positions, no class token and no ln_pre; after the blocks
 *          `ln_post` over every token, then a multihead attention pooling head (MAP): a learned `probe`
 *          attends over the tokens, then x ← x + mlp(ln(x)). Its output is the image embedding (no
 *          projection), so the embedding size is the tower's width.
 *   text   token + learned position embeddings, bidirectional blocks, `ln_final`, and the LAST position's
 *          features (texts are padded to the full context, so that is always a pad or end token) through
 *          `head`, a Linear with a bias.
 *
 * Scores are exp(logit_scale) · cosine + logit_bias, both learned (CLIP's `logit_bias`, see clip.ts).
 */
import type { Dim, Tensor } from "../engine/index.js";
import { fmt, ShapeError } from "../engine/index.js";
import { Conv2d, Embedding, LayerNorm, Linear, Module, MultiheadAttention, Parameter } from "../nn/index.js";
import { FeedForward, Transformer, type TransformerConfig } from "./transformer.js";
import { embedPatches } from "./vit.js";

export interface SiglipVisionConfig extends TransformerConfig {
  type: "siglip";
  imageSize: number;
  patchSize: number;
}

export interface SiglipTextConfig extends TransformerConfig {
  type: "siglip";
  vocabSize: number;
  contextLength: number;
}

/** The attention pooling head: one learned query per image over all tokens, then a residual MLP. */
export class AttentionPool extends Module {
  probe: Parameter;
  attn: MultiheadAttention;
  ln: LayerNorm;
  mlp: FeedForward;

  constructor(cfg: TransformerConfig) {
    super();
    this.probe = new Parameter([1, 1, cfg.width], { kind: "normal", std: cfg.width ** -0.5 }, false);
    this.attn = new MultiheadAttention(cfg.width, cfg.heads);
    this.ln = new LayerNorm(cfg.width, cfg.lnEps);
    this.mlp = new FeedForward(cfg.width, Math.round(cfg.width * cfg.mlpRatio), cfg.act);
  }

  /** Tokens [B, T, D] → [B, D]. */
  forward(x: Tensor): Tensor {
    const [b, , d] = x.shape as [Dim, Dim, number];
    const query = this.probe.value.reshape([1, d]).expand([b, d]);
    const h = this.attn.out_proj.forward(this.attn.attendQuery(query, x));
    return h.add(this.mlp.forward(this.ln.forward(h)));
  }
}

export class SiglipVisionTower extends Module {
  conv1: Conv2d;
  positional_embedding: Parameter;
  transformer: Transformer;
  ln_post: LayerNorm;
  attn_pool: AttentionPool;

  constructor(readonly cfg: SiglipVisionConfig) {
    super();
    const { width, patchSize: p, imageSize } = cfg;
    if (imageSize % p !== 0)
      throw new Error(`siglip: image size ${imageSize} is not a multiple of patch size ${p}`);
    this.conv1 = new Conv2d(3, width, p, { stride: p });
    this.positional_embedding = new Parameter(
      [(imageSize / p) ** 2, width],
      { kind: "normal", std: width ** -0.5 },
      false,
    );
    this.transformer = new Transformer(cfg, false);
    this.ln_post = new LayerNorm(width, cfg.lnEps);
    this.attn_pool = new AttentionPool(cfg);
  }

  /** [B, 3, S, S] normalized pixels → [B, width] (not normalized). */
  forward(images: Tensor): Tensor {
    const x = embedPatches(images, this.conv1, this.cfg.imageSize).add(this.positional_embedding.value);
    return this.attn_pool.forward(this.ln_post.forward(this.transformer.forward(x)));
  }
}

export class SiglipTextTower extends Module {
  token_embedding: Embedding;
  positional_embedding: Parameter;
  transformer: Transformer;
  ln_final: LayerNorm;
  head: Linear;
  /** Every position reaches the pooled one (no causal mask): texts cannot be cut short of the context. */
  readonly trimsPadding = false;

  constructor(
    readonly cfg: SiglipTextConfig,
    readonly embedDim: number,
  ) {
    super();
    this.token_embedding = new Embedding(cfg.vocabSize, cfg.width, cfg.width ** -0.5);
    this.positional_embedding = new Parameter(
      [cfg.contextLength, cfg.width],
      { kind: "normal", std: cfg.width ** -0.5 },
      false,
    );
    this.transformer = new Transformer(cfg, false);
    this.ln_final = new LayerNorm(cfg.width, cfg.lnEps);
    this.head = new Linear(cfg.width, embedDim);
  }

  /** Token ids [B, contextLength], padded to the end → [B, embed] (not normalized). */
  forward(tokens: Tensor): Tensor {
    const t = tokens.shape[1];
    const context = this.cfg.contextLength;
    if (t !== context)
      throw new ShapeError(
        `siglip text tower: token ids must be [batch, ${context}], got ${fmt(tokens.shape)}`,
      );
    const x = this.token_embedding.forward(tokens).add(this.positional_embedding.value);
    // Only the last position is pooled: the last block computes just its query (ln_final is per token).
    const last = (h: Tensor) => h.slice(1, context - 1, context).squeeze(1);
    return this.head.forward(this.ln_final.forward(this.transformer.forward(x, last)));
  }
}
