import { constant, type DType, scalar, type Tensor, where } from "../engine/index.js";
import { Linear } from "./linear.js";
import { Module, Parameter } from "./module.js";

/**
 * Multi-head self-attention with a packed q/k/v projection (`in_proj_weight` [3·dim, dim], as PyTorch's
 * nn.MultiheadAttention and OpenCLIP store it) and an output projection. softmax(q·kᵀ/√d_head)·v per head,
 * with an optional causal mask.
 */
export class MultiheadAttention extends Module {
  in_proj_weight: Parameter;
  in_proj_bias: Parameter;
  out_proj: Linear;

  constructor(
    readonly dim: number,
    readonly heads: number,
    readonly causal = false,
  ) {
    super();
    if (dim % heads !== 0) throw new Error(`attention: width ${dim} is not divisible by ${heads} heads`);
    const bound = Math.sqrt(6 / (dim + 3 * dim)); // xavier_uniform over the packed matrix, as PyTorch
    this.in_proj_weight = new Parameter([3 * dim, dim], { kind: "uniform", bound });
    this.in_proj_bias = new Parameter([3 * dim], { kind: "zeros" });
    this.out_proj = new Linear(dim, dim);
    this.out_proj.bias = new Parameter([dim], { kind: "zeros" });
  }

  forward(x: Tensor): Tensor {
    return this.out_proj.forward(this.attend(x));
  }

  /** The attention context per token, before the output projection ([B, T, D]). */
  attend(x: Tensor): Tensor {
    const [b, t] = x.shape as [number | string, number];
    const w = this.in_proj_weight.value;
    const bias = this.in_proj_bias.value;
    // Inference: one fused kernel (no gradient needed); training: the differentiable composite below.
    if (!this.training) return x.attention(w, bias, { heads: this.heads, causal: this.causal });
    // One projection for q, k and v (a wider product runs faster than three), split per head.
    const [q, k, v] = this.perHead(x.linear(w, bias), 3) as [Tensor, Tensor, Tensor];
    const mask = this.causal ? causalMask(t, x.dtype) : undefined;
    return this.core(q, k, v, mask).transpose([0, 2, 1, 3]).reshape([b, t, this.dim]);
  }

  /**
   * The context of one query token per example ([B, T, D] → [B, D]), chosen by `pool` (a per-example
   * selection [B, T, …] → [B, …], e.g. the class token): the last block of a pooled tower needs no other.
   * Keys and values still come from every token, but the query projection and the attention core shrink
   * from T rows to one (a third of the block's input projection and nearly all its attention).
   */
  attendPooled(x: Tensor, pool: (t: Tensor) => Tensor): Tensor {
    const [b, t] = x.shape as [number | string, number];
    let mask: Tensor | undefined;
    if (this.causal) {
      // The pooled token's row of the causal mask: pool a 0/1 "j ≤ i" matrix (pooling the −∞ mask itself
      // would multiply −∞ by 0 when the selection is a one-hot sum).
      const seen = pool(lowerTriangle(t, 1, 0, x.dtype).unsqueeze(0).expand([b, t, t])).reshape([b, 1, 1, t]);
      mask = where(seen.gt(0.5), scalar(0, x.dtype), Number.NEGATIVE_INFINITY);
    }
    return this.attendQuery(pool(x), x, mask);
  }

  /**
   * The context of one query vector per example over all tokens of x ([B, D] with [B, T, D] → [B, D]),
   * before the output projection: e.g. a learned probe that pools a tower's tokens (SigLIP's attention
   * pooling head, nn.MultiheadAttention(probe, x, x) in PyTorch). `mask` is added to the scores.
   */
  attendQuery(query: Tensor, x: Tensor, mask?: Tensor): Tensor {
    const b = x.shape[0] as number | string;
    const d = this.dim;
    const w = this.in_proj_weight.value;
    const bias = this.in_proj_bias.value;
    const q = query.linear(w.slice(0, 0, d), bias.slice(0, 0, d)).reshape([b, this.heads, 1, d / this.heads]);
    const [k, v] = this.perHead(x.linear(w.slice(0, d, 3 * d), bias.slice(0, d, 3 * d)), 2) as [
      Tensor,
      Tensor,
    ];
    return this.core(q, k, v, mask).reshape([b, d]);
  }

  /** [B, T, n·D] (n packed projections) → n tensors [B, H, T, d_head]. */
  private perHead(packed: Tensor, n: number): Tensor[] {
    const [b, t] = packed.shape as [number | string, number];
    const dh = this.dim / this.heads;
    return packed
      .reshape([b, t, n, this.heads, dh])
      .split(2, n)
      .map((part) => part.reshape([b, t, this.heads, dh]).transpose([0, 2, 1, 3]));
  }

  /** softmax(q·kᵀ/√d_head + mask)·v per head: [B, H, Tq, d_head]. */
  private core(q: Tensor, k: Tensor, v: Tensor, mask?: Tensor): Tensor {
    let scores = q.matmul(k, { transB: true, alpha: 1 / Math.sqrt(this.dim / this.heads) });
    if (mask) scores = scores.add(mask);
    return scores.softmax(-1).matmul(v);
  }
}

/** [T, T]: `on` where j ≤ i (query i may see key j), `off` above the diagonal. */
function lowerTriangle(t: number, on: number, off: number, dtype: DType): Tensor {
  const m = dtype === "float64" ? new Float64Array(t * t) : new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = 0; j < t; j++) m[i * t + j] = j <= i ? on : off;
  return constant(m, [t, t], dtype);
}

/** [T, T] additive mask: 0 on and below the diagonal, −∞ above (a token sees only earlier tokens). */
export function causalMask(t: number, dtype: DType = "float32"): Tensor {
  return lowerTriangle(t, 0, Number.NEGATIVE_INFINITY, dtype);
}
