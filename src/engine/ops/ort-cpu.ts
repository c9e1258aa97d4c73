/**
 * Lowerings tuned for ONNX Runtime's CPU kernels (MLAS). Each op in this folder first offers its node to
 * the function here that knows a faster form on this runtime; where none applies (or contrib ops are off,
 * as in portable exports, or the dtype is not float32) the op emits its plain ONNX form. Every choice was
 * measured on the reference machine (2 cores, AVX-512; see docs/performance.md): the figures are beside
 * each one. Gradient rules that pick an orientation for MLAS read the predicates here too.
 */
import type { DType } from "../dtype.js";
import type { Lowering } from "../op.js";
import { isStatic, sizeOf } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { int64s, reshapeTo, rowsOf } from "./common.js";

/** Whether the tuned kernels may be used for a value of this dtype (contrib ops allowed, float32). */
const tuned = (l: Lowering, dtype: DType): boolean => l.contrib && dtype === "float32";

// ---------------------------------------------------------------------------------------------------------
// Matrix products.

/**
 * Whether a · op(b) (b a 2-D weight) is a tall product that MLAS runs faster transposed: many rows (≥ 8192,
 * static), N ≤ 1024, and reduction and output widths three or more times apart, as the gradients flowing
 * into a ViT's MLP and q/k/v inputs at batch 128. Computed as yᵀ = op(b)ᵀ·aᵀ plus one transpose of y, these
 * ran at 168-182 GFLOP/s instead of 105-160 ([8320, 1024]·[1024, 256], [8320, 768]·[768, 256],
 * [8320, 2048]·[2048, 512], [8320, 256]·[256, 1024], [8320, 256]·[256, 768]; interleaved A/B in one
 * process, 2 cores), transposes included. With 4096 rows (the text tower), a large matrix of similar sides
 * (K = 256, N = 256; K = 192, N = 256) or N = 768 with K = 3072, it measured no gain or a loss.
 */
function tallUnbalanced(a: Tensor, b: Tensor, transB: boolean): boolean {
  if (b.rank !== 2 || !isStatic(a.shape)) return false;
  const k = a.shape[a.rank - 1] as number;
  const n = (transB ? b.shape[0] : b.shape[1]) as number;
  const rows = sizeOf(a.shape) / k;
  return rows >= 8192 && n <= 1024 && (k >= 3 * n || n >= 3 * k);
}

/**
 * A matrix product y = alpha · op(a) · op(b) as MLAS runs it fastest: tall unbalanced products transposed
 * (see {@link tallUnbalanced}); transposes and scale folded into one FusedMatMul (free, where MatMul would
 * need Transpose nodes and a Mul). Returns false where the plain MatMul form is as fast.
 */
export function matmulOnCpu(
  l: Lowering,
  a: Tensor,
  b: Tensor,
  at: { transA: boolean; transB: boolean; alpha: number },
  y: Tensor,
  yName: string,
): boolean {
  if (!tuned(l, a.dtype)) return false;
  const { transA, transB, alpha } = at;
  if (!transA && tallUnbalanced(a, b, transB)) {
    const flat = a.rank === 2;
    const [yt, y2] = [l.tmp("yt"), flat ? yName : l.tmp("y2")];
    const attrs = { transA: transB ? 0 : 1, transB: 1, alpha: { f: alpha } };
    l.emit("FusedMatMul", [l.name(b), rowsOf(l, a)], [yt], attrs, "com.microsoft");
    l.emit("Transpose", [yt], [y2], { perm: [1, 0] });
    if (!flat) reshapeTo(l, y2, y.shape, yName);
    return true;
  }
  if (!transA && !transB && alpha === 1) return false;
  const attrs = { transA: +transA, transB: +transB, alpha: { f: alpha } };
  l.emit("FusedMatMul", [l.name(a), l.name(b)], [yName], attrs, "com.microsoft");
  return true;
}

/**
 * Whether a dense layer adds its bias in a separate Add rather than inside the Gemm: a 4×-expanding layer
 * (an MLP's up-projection). MLAS's Gemm runs ~20 % faster without a bias to broadcast into a wide output,
 * more than the Add costs (CLIP image tower 554 → 511 ms per 128 images, training step ~3 %); in inference
 * graphs ONNX Runtime then fuses that Add with the GELU after it into one BiasGelu kernel. Applies to the
 * portable form too (plain ONNX, and just as fast elsewhere).
 */
export const biasApartFromGemm = (outFeatures: number, inFeatures: number): boolean =>
  outFeatures >= 4 * inFeatures;

/**
 * Whether a dense layer's weight gradient dW = gᵀ·x ([out, in]) is computed as (xᵀ·g)ᵀ: MLAS runs the
 * product ~12-15 % faster when its output has more rows than columns, so a narrowing layer (out < in)
 * computes the transposed product and transposes the small result (profiled c_proj dW: image 31.4 → 27.1 ms,
 * text 18.3 → 13.5 ms per layer).
 */
export const weightGradTransposed = (outFeatures: number, inFeatures: number): boolean =>
  outFeatures < inFeatures;

// ---------------------------------------------------------------------------------------------------------
// Reductions.

/**
 * A float32 sum over the leading axes (bias and LayerNorm-gain gradients: [B, T, D] → [D]) as a product with
 * a row of ones. ONNX Runtime's ReduceSum over leading axes runs at ~3 GB/s (6.8 ms for [8320, 256]); MLAS's
 * MatMul does the same sum in 0.2 ms. Sums over trailing axes are fast as ReduceSum and stay so. (Standard
 * ops, so portable graphs use it too.)
 */
export function sumLeadingAsMatMul(
  l: Lowering,
  x: Tensor,
  y: Tensor,
  axes: readonly number[],
  name: string,
): boolean {
  const sorted = [...axes].sort((a, b) => a - b);
  if (x.dtype !== "float32" || !isStatic(x.shape) || !isStatic(y.shape)) return false;
  if (!sorted.every((a, i) => a === i) || sorted.length === x.rank) return false;
  const m = sizeOf(x.shape.slice(0, sorted.length));
  const rest = sizeOf(x.shape.slice(sorted.length));
  if (m < 64) return false;
  const flat = l.tmp("flat");
  l.emit("Reshape", [l.name(x), int64s(l, [m, rest])], [flat]);
  const ones = l.constant(new Float32Array(m).fill(1), "float32", [1, m]);
  const row = l.tmp("sum");
  l.emit("MatMul", [ones, flat], [row]);
  l.emit("Reshape", [row, int64s(l, y.shape as number[])], [name]);
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Fused kernels (com.microsoft contrib ops, forward only: the npm build has no gradient kernels).

/** GELU (erf or tanh form) and QuickGELU as one contrib kernel each. */
export function activationOnCpu(
  l: Lowering,
  kind: "gelu" | "geluTanh" | "quickGelu",
  dtype: DType,
  x: string,
  y: string,
): boolean {
  if (!tuned(l, dtype)) return false;
  if (kind === "quickGelu") l.emit("QuickGelu", [x], [y], { alpha: { f: 1.702 } }, "com.microsoft");
  else l.emit(kind === "gelu" ? "Gelu" : "FastGelu", [x], [y], {}, "com.microsoft");
  return true;
}

/**
 * Self-attention with a packed q/k/v projection as ONNX Runtime's Attention kernel: one op instead of three
 * projections, head transposes, two batched products and a softmax. `wT` is the projection as [D, 3D].
 */
export function attentionOnCpu(
  l: Lowering,
  dtype: DType,
  ins: { x: string; wT: string; b: string },
  at: { heads: number; causal: boolean },
  y: string,
): boolean {
  if (!tuned(l, dtype)) return false;
  l.emit(
    "Attention",
    [ins.x, ins.wT, ins.b],
    [y],
    { num_heads: at.heads, unidirectional: +at.causal },
    "com.microsoft",
  );
  return true;
}
