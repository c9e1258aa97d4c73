/**
 * The pre-LN Transformer shared by CLIP's two towers (as open_clip's transformer.py):
 *   x ← x + attn(ln_1(x)),  x ← x + mlp(ln_2(x)),  mlp = c_proj(act(c_fc(x))).
 * Field names follow OpenCLIP's state_dict so that checkpoints map one to one.
 */
import type { Tensor } from "../engine/index.js";
import { type Activation, activate, LayerNorm, Linear, Module, MultiheadAttention } from "../nn/index.js";

export interface TransformerConfig {
  width: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  act: Activation;
  lnEps: number;
}

/** The block's MLP: c_proj(act(c_fc(x))). */
export class FeedForward extends Module {
  c_fc: Linear;
  c_proj: Linear;
  constructor(
    width: number,
    hidden: number,
    readonly act: Activation,
  ) {
    super();
    this.c_fc = new Linear(width, hidden);
    this.c_proj = new Linear(hidden, width);
  }
  forward(x: Tensor): Tensor {
    return this.c_proj.forward(activate(this.c_fc.forward(x), this.act));
  }
}

export class ResidualAttentionBlock extends Module {
  ln_1: LayerNorm;
  attn: MultiheadAttention;
  ln_2: LayerNorm;
  mlp: FeedForward;

  constructor(cfg: TransformerConfig, causal: boolean) {
    super();
    this.ln_1 = new LayerNorm(cfg.width, cfg.lnEps);
    this.attn = new MultiheadAttention(cfg.width, cfg.heads, causal);
    this.ln_2 = new LayerNorm(cfg.width, cfg.lnEps);
    this.mlp = new FeedForward(cfg.width, Math.round(cfg.width * cfg.mlpRatio), cfg.act);
  }

  /**
   * With `pool` (a per-example selection [B, T, …] → [B, …], e.g. the class token), only the pooled token
   * leaves the block: its query is the only one attention needs, and the output projection, residual and
   * MLP are per-token maps, so applying them after the selection gives the same result for a fraction of
   * the work (the last block of a pooled tower).
   */
  forward(x: Tensor, pool?: (t: Tensor) => Tensor): Tensor {
    if (!pool) {
      const h = x.add(this.attn.forward(this.ln_1.forward(x)));
      return h.add(this.mlp.forward(this.ln_2.forward(h)));
    }
    const context = this.attn.attendPooled(this.ln_1.forward(x), pool);
    const h = pool(x).add(this.attn.out_proj.forward(context));
    return h.add(this.mlp.forward(this.ln_2.forward(h)));
  }
}

export class Transformer extends Module {
  resblocks: ResidualAttentionBlock[];

  constructor(
    readonly cfg: TransformerConfig,
    causal: boolean,
  ) {
    super();
    this.resblocks = Array.from({ length: cfg.layers }, () => new ResidualAttentionBlock(cfg, causal));
    // OpenCLIP's init: attention and MLP projections scaled by depth.
    const attnStd = cfg.width ** -0.5;
    const projStd = attnStd * (2 * cfg.layers) ** -0.5;
    const fcStd = (2 * cfg.width) ** -0.5;
    for (const b of this.resblocks) {
      b.attn.in_proj_weight.init = { kind: "normal", std: attnStd };
      b.attn.out_proj.weight.init = { kind: "normal", std: projStd };
      b.mlp.c_fc.weight.init = { kind: "normal", std: fcStd };
      b.mlp.c_proj.weight.init = { kind: "normal", std: projStd };
      for (const lin of [b.mlp.c_fc, b.mlp.c_proj]) if (lin.bias) lin.bias.init = { kind: "zeros" };
    }
  }

  /** All tokens [B, T, D]; or, with `pool`, the pooled token [B, D] (the last block computes only that). */
  forward(x: Tensor, pool?: (t: Tensor) => Tensor): Tensor {
    const last = this.resblocks.length - 1;
    this.resblocks.forEach((block, i) => {
      x = block.forward(x, i === last ? pool : undefined);
    });
    return x;
  }
}
