/**
 * Principal component analysis down to two dimensions, for drawing embeddings as a map. Orthogonal
 * (subspace) iteration on the centred data: two vectors cost O(n·dim) per round and the covariance
 * matrix (dim²) is never formed, so it stays fast for wide embeddings.
 */

export interface Pca2d {
  /** n × 2, row-major: each row's coordinates along the first and second principal components. */
  xy: Float64Array;
  /** Fraction of the total variance along each of the two components (0 when there is none). */
  explained: [number, number];
}

/** Enough for a picture: past this the leading components are nearly tied and either split looks alike. */
const MAX_ROUNDS = 300;

/**
 * Projects `n` rows of `dim` values (row-major) onto their top two principal components.
 * Deterministic: fixed starting vectors, and each component's sign is chosen so that its
 * largest-magnitude loading is positive.
 */
export function pca2d(emb: ArrayLike<number>, n: number, dim: number): Pca2d {
  if (!Number.isInteger(n) || !Number.isInteger(dim) || n < 0 || dim < 0 || emb.length !== n * dim)
    throw new Error(`pca2d: ${emb.length} values do not make ${n} rows of ${dim}`);
  const x = new Float64Array(n * dim);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j]! += emb[i * dim + j]! / n;
  let total = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < dim; j++) {
      const v = emb[i * dim + j]! - mean[j]!;
      x[i * dim + j] = v;
      total += v * v;
    }
  const xy = new Float64Array(n * 2);
  if (n === 0 || dim === 0 || total === 0) return { xy, explained: [0, 0] };

  // Start from a fixed, generic pair of vectors (a tiny LCG) so runs are reproducible.
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  let u: Float64Array = Float64Array.from({ length: dim }, rnd);
  let w: Float64Array = Float64Array.from({ length: dim }, rnd);
  orthonormalize(u, w);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const nu = covTimes(x, n, dim, u);
    const nw = covTimes(x, n, dim, w);
    orthonormalize(nu, nw);
    const change = Math.max(moved(nu, u), moved(nw, w));
    u = nu;
    w = nw;
    if (change < 1e-10) break;
  }
  // Rayleigh–Ritz on span{u, w}: rotate the pair onto the eigenvectors of the 2×2 projected covariance,
  // which also orders them by variance even if the iteration has not separated them fully.
  const cu = covTimes(x, n, dim, u);
  const cw = covTimes(x, n, dim, w);
  const a = dot(u, cu);
  const b = dot(u, cw);
  const c = dot(w, cw);
  const theta = 0.5 * Math.atan2(2 * b, a - c);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const p1 = new Float64Array(dim);
  const p2 = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    p1[j] = cos * u[j]! + sin * w[j]!;
    p2[j] = -sin * u[j]! + cos * w[j]!;
  }
  fixSign(p1);
  fixSign(p2);
  let v1 = 0;
  let v2 = 0;
  for (let i = 0; i < n; i++) {
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < dim; j++) {
      s1 += x[i * dim + j]! * p1[j]!;
      s2 += x[i * dim + j]! * p2[j]!;
    }
    xy[2 * i] = s1;
    xy[2 * i + 1] = s2;
    v1 += s1 * s1;
    v2 += s2 * s2;
  }
  return { xy, explained: [v1 / total, v2 / total] };
}

/** Xᵀ(X v): the (unnormalized) covariance times v, without forming the covariance. */
function covTimes(x: Float64Array, n: number, dim: number, v: Float64Array): Float64Array {
  const out = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[i * dim + j]! * v[j]!;
    for (let j = 0; j < dim; j++) out[j]! += s * x[i * dim + j]!;
  }
  return out;
}

/** How far a unit vector moved, ignoring a sign flip; 0 for a zero vector (nothing left to converge). */
function moved(next: Float64Array, prev: Float64Array): number {
  const s = dot(next, prev) < 0 ? -1 : 1;
  let d = 0;
  for (let j = 0; j < next.length; j++) d += (next[j]! - s * prev[j]!) ** 2;
  return Math.sqrt(d);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/** Gram–Schmidt in place; when `w` is (to rounding) along `u`, as with data of rank 1, it becomes zero. */
function orthonormalize(u: Float64Array, w: Float64Array): void {
  normalize(u, 0);
  const before = Math.sqrt(dot(w, w));
  const p = dot(u, w);
  for (let j = 0; j < w.length; j++) w[j]! -= p * u[j]!;
  normalize(w, 1e-12 * before);
}

function normalize(v: Float64Array, floor: number): void {
  const len = Math.sqrt(dot(v, v));
  if (len <= floor || len === 0) v.fill(0);
  else for (let j = 0; j < v.length; j++) v[j]! /= len;
}

function fixSign(v: Float64Array): void {
  let big = 0;
  for (let j = 1; j < v.length; j++) if (Math.abs(v[j]!) > Math.abs(v[big]!)) big = j;
  if (v[big]! < 0) for (let j = 0; j < v.length; j++) v[j] = -v[j]!;
}
