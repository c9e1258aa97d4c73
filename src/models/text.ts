/**
 * CLIP's text tower: token and learned position embeddings, causal pre-LN Transformer, `ln_final`, and the
 * feature at the end-of-text token (the position of the largest token id, as OpenAI CLIP) projected to the
 * shared space.
 */
import { arange, type Tensor } from "../engine/index.js";
import { type Activation, Embedding, LayerNorm, Module, Parameter } from "../nn/index.js";
import { Transformer } from "./transformer.js";

export interface TextConfig {
  vocabSize: number;
  contextLength: number;
  width: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  act: Activation;
  lnEps: number;
}

export class TextTransformer extends Module {
  token_embedding: Embedding;
  positional_embedding: Parameter;
  transformer: Transformer;
  ln_final: LayerNorm;
  text_projection: Parameter;

  constructor(
    readonly cfg: TextConfig,
    readonly embedDim: number,
  ) {
    super();
    this.token_embedding = new Embedding(cfg.vocabSize, cfg.width, 0.02);
    this.positional_embedding = new Parameter(
      [cfg.contextLength, cfg.width],
      { kind: "normal", std: 0.01 },
      false,
    );
    this.transformer = new Transformer(cfg, true);
    this.ln_final = new LayerNorm(cfg.width, cfg.lnEps);
    this.text_projection = new Parameter([cfg.width, embedDim], { kind: "normal", std: cfg.width ** -0.5 });
  }

  /** Token ids [B, context] (int32 or int64) → [B, embed] (not normalized). */
  forward(tokens: Tensor): Tensor {
    const t = this.cfg.contextLength;
    const x = this.token_embedding.forward(tokens).add(this.positional_embedding.value);
    // The end-of-text token's features (a one-hot of argmax(ids) per row); the last block computes only
    // those, and ln_final is a per-token map, so it is applied after pooling.
    const eot = tokens.argmax(1).unsqueeze(1).eq(arange(t)).cast(x.dtype).unsqueeze(2);
    const atEot = (h: Tensor) => eot.mul(h).sum(1);
    const pooled = this.transformer.forward(x, atEot);
    return this.ln_final.forward(pooled).matmul(this.text_projection.value);
  }
}
