/**
 * t-SNE (van der Maaten & Hinton 2008) down to two dimensions, for the report's second embedding map: it
 * keeps neighbours together, which PCA's linear projection cannot when classes differ in more than two
 * directions. Exact O(n²) gradients (the report maps at most a few thousand points, where Barnes-Hut's
 * approximation buys little), with the usual optimisation: perplexity-calibrated affinities, early
 * exaggeration, momentum and per-coordinate gains (delta-bar-delta), and a PCA initialisation scaled to a
 * small spread (as openTSNE does), so the same input always gives the same map.
 */
import { pca2d } from "./pca.js";

export interface TsneOptions {
  /** Effective number of neighbours (default 30, at most (n − 1) / 3). */
  perplexity?: number;
  /** Gradient steps (default 750: 250 exaggerated, then 500). */
  iterations?: number;
}

/** Past this many points the exact gradients get slow (n² pairs per step); callers sample first. */
export const TSNE_MAX_POINTS = 2000;

const EXAGGERATION = 12;
const EXAGGERATED_STEPS = 250;

/** Map `n` rows of `dim` values (row-major) to n × 2 coordinates. */
export function tsne2d(emb: ArrayLike<number>, n: number, dim: number, opts: TsneOptions = {}): Float64Array {
  if (!Number.isInteger(n) || !Number.isInteger(dim) || n < 0 || dim < 0 || emb.length !== n * dim)
    throw new Error(`tsne2d: ${emb.length} values do not make ${n} rows of ${dim}`);
  if (n > TSNE_MAX_POINTS) throw new Error(`tsne2d: ${n} points; sample at most ${TSNE_MAX_POINTS}`);
  const y = new Float64Array(n * 2);
  if (n < 4) return y;
  const p = affinities(emb, n, dim, Math.min(opts.perplexity ?? 30, (n - 1) / 3));

  // PCA start, scaled so the first coordinate's standard deviation is 1e-4.
  const init = pca2d(emb, n, dim).xy;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += init[2 * i]! ** 2;
  const scale = sq > 0 ? 1e-4 / Math.sqrt(sq / n) : 0;
  for (let k = 0; k < 2 * n; k++)
    y[k] = init[k]! * scale || 1e-4 * ((((k * 2654435761) >>> 0) % 1000) / 1000 - 0.5);

  const iterations = opts.iterations ?? 750;
  const rate = Math.max(200, n / EXAGGERATION);
  const update = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  const grad = new Float64Array(2 * n);
  const num = new Float64Array(n * n);
  for (let it = 0; it < iterations; it++) {
    const ex = it < EXAGGERATED_STEPS ? EXAGGERATION : 1;
    const momentum = it < EXAGGERATED_STEPS ? 0.5 : 0.8;
    // Student-t kernel between every pair, and its sum Z.
    let z = 0;
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) {
        const dx = y[2 * i]! - y[2 * j]!;
        const dy = y[2 * i + 1]! - y[2 * j + 1]!;
        const q = 1 / (1 + dx * dx + dy * dy);
        num[i * n + j] = q;
        num[j * n + i] = q;
        z += 2 * q;
      }
    // ∂C/∂y_i = 4 Σ_j (ex·p_ij − q_ij) (1 + |y_i − y_j|²)⁻¹ (y_i − y_j), with q_ij = num_ij / Z.
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      let gx = 0;
      let gy = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const q = num[i * n + j]!;
        const m = (ex * p[i * n + j]! - q / z) * q;
        gx += m * (y[2 * i]! - y[2 * j]!);
        gy += m * (y[2 * i + 1]! - y[2 * j + 1]!);
      }
      grad[2 * i] = 4 * gx;
      grad[2 * i + 1] = 4 * gy;
    }
    for (let k = 0; k < 2 * n; k++) {
      const g = grad[k]!;
      // Grow a coordinate's gain while its gradient keeps pointing against the last step, shrink it after.
      gains[k] = Math.max(0.01, Math.sign(g) !== Math.sign(update[k]!) ? gains[k]! + 0.2 : gains[k]! * 0.8);
      update[k] = momentum * update[k]! - rate * gains[k]! * g;
      y[k]! += update[k]!;
    }
    // Keep the map centred (the cost does not depend on a shift).
    let cx = 0;
    let cy = 0;
    for (let i = 0; i < n; i++) {
      cx += y[2 * i]!;
      cy += y[2 * i + 1]!;
    }
    for (let i = 0; i < n; i++) {
      y[2 * i]! -= cx / n;
      y[2 * i + 1]! -= cy / n;
    }
  }
  return y;
}

/**
 * Symmetric input affinities p_ij = (p_j|i + p_i|j) / 2n, each row's Gaussian width found by bisection so
 * that its entropy is log(perplexity).
 */
function affinities(emb: ArrayLike<number>, n: number, dim: number, perplexity: number): Float64Array {
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) {
        const t = emb[i * dim + k]! - emb[j * dim + k]!;
        s += t * t;
      }
      d[i * n + j] = s;
      d[j * n + i] = s;
    }
  const target = Math.log(perplexity);
  const cond = new Float64Array(n * n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let beta = 1;
    let lo = 0;
    let hi = Number.POSITIVE_INFINITY;
    // Distances relative to the nearest neighbour keep exp() in range for any scale of input.
    let dmin = Number.POSITIVE_INFINITY;
    for (let j = 0; j < n; j++) if (j !== i) dmin = Math.min(dmin, d[i * n + j]!);
    for (let step = 0; step < 100; step++) {
      let sum = 0;
      let weighted = 0;
      for (let j = 0; j < n; j++) {
        const v = j === i ? 0 : Math.exp(-beta * (d[i * n + j]! - dmin));
        row[j] = v;
        sum += v;
        weighted += v * (d[i * n + j]! - dmin);
      }
      const entropy = Math.log(sum) + (beta * weighted) / sum;
      if (Math.abs(entropy - target) < 1e-5) break;
      if (entropy > target) {
        lo = beta;
        beta = hi === Number.POSITIVE_INFINITY ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += row[j]!;
    for (let j = 0; j < n; j++) cond[i * n + j] = row[j]! / sum;
  }
  const p = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      p[i * n + j] = Math.max((cond[i * n + j]! + cond[j * n + i]!) / (2 * n), 1e-12);
  return p;
}
