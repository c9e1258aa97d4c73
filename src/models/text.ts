/**
 * CLIP's text tower: token and learned position embeddings, causal pre-LN Transformer, `ln_final`, and the
 * feature at the end-of-text token (the position of the largest token id, as OpenAI CLIP) projected to the
 * shared space.
 */
import { arange, fmt, ShapeError, type Tensor } from "../engine/index.js";
import { Embedding, LayerNorm, Module, Parameter } from "../nn/index.js";
import { Transformer, type TransformerConfig } from "./transformer.js";

export interface TextConfig extends TransformerConfig {
  /** CLIP's text tower (the default); SigLIP's is siglip.ts's SiglipTextConfig. */
  type?: "clip";
  vocabSize: number;
  contextLength: number;
}

export class TextTransformer extends Module {
  token_embedding: Embedding;
  positional_embedding: Parameter;
  transformer: Transformer;
  ln_final: LayerNorm;
  text_projection: Parameter;
  /** Causal and pooled at the end-of-text token: positions after it can be cut off (see forward). */
  readonly trimsPadding = true;

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

  /**
   * Token ids [B, T] (int32 or int64) → [B, embed] (not normalized). T is the context length, or fewer
   * positions when every row's end-of-text token lies within them: attention is causal, so the positions
   * after it never reach the pooled feature (inference trims padding this way).
   */
  forward(tokens: Tensor): Tensor {
    const t = tokens.shape[1];
    const context = this.cfg.contextLength;
    if (typeof t !== "number" || t < 1 || t > context)
      throw new ShapeError(`text tower: token ids must be [batch, 1..${context}], got ${fmt(tokens.shape)}`);
    const positions = this.positional_embedding.value;
    const x = this.token_embedding.forward(tokens).add(t === context ? positions : positions.slice(0, 0, t));
    // The end-of-text token's features (a one-hot of argmax(ids) per row); the last block computes only
    // those, and ln_final is a per-token map, so it is applied after pooling.
    const eot = tokens.argmax(1).unsqueeze(1).eq(arange(t)).cast(x.dtype).unsqueeze(2);
    const atEot = (h: Tensor) => eot.mul(h).sum(1);
    const pooled = this.transformer.forward(x, atEot);
    return this.ln_final.forward(pooled).matmul(this.text_projection.value);
  }
}
