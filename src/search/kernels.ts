/**
 * The inner loops shared by the vector index and the evaluations: dot products over rows of flat
 * Float32Arrays, row normalization, and a fixed-size top-K heap. Scores are accumulated in doubles.
 */
import { UserError } from "../util/errors.js";

/** Σ a[ao+i]·b[bo+i] for i < dim; four independent accumulators let the CPU overlap the multiply-adds. */
export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end4 = dim - (dim % 4);
  let i = 0;
  for (; i < end4; i += 4) {
    s0 += (a[ao + i] as number) * (b[bo + i] as number);
    s1 += (a[ao + i + 1] as number) * (b[bo + i + 1] as number);
    s2 += (a[ao + i + 2] as number) * (b[bo + i + 2] as number);
    s3 += (a[ao + i + 3] as number) * (b[bo + i + 3] as number);
  }
  for (; i < dim; i++) s0 += (a[ao + i] as number) * (b[bo + i] as number);
  return s0 + s1 + s2 + s3;
}

/**
 * Scores of `rows` query rows starting at row `q0` of `queries` against all `n` rows of `gallery`, into
 * `out` (row-major [rows, n]). The gallery is walked in chunks that stay in cache while every query of the
 * block passes over them.
 */
export function scoreBlock(
  queries: Float32Array,
  q0: number,
  rows: number,
  gallery: Float32Array,
  n: number,
  dim: number,
  out: Float32Array | Float64Array,
): void {
  const chunk = Math.max(1, Math.floor(16384 / dim));
  for (let g0 = 0; g0 < n; g0 += chunk) {
    const g1 = Math.min(n, g0 + chunk);
    for (let r = 0; r < rows; r++) {
      const qo = (q0 + r) * dim;
      const oo = r * n;
      for (let g = g0; g < g1; g++) out[oo + g] = dot(queries, qo, gallery, g * dim, dim);
    }
  }
}

/** Rows in a flat embedding matrix, checking that its length is a multiple of `dim`. */
export function rowCount(x: Float32Array, dim: number, what: string): number {
  if (!Number.isInteger(dim) || dim < 1) throw new UserError(`${what}: dimension must be a positive integer`);
  if (x.length % dim !== 0)
    throw new UserError(`${what}: ${x.length} values is not a whole number of ${dim}-d vectors`);
  return x.length / dim;
}

/** Scale row `r` of `x` to unit L2 norm in place; false when the row is zero or not finite. */
export function normalizeRow(x: Float32Array, r: number, dim: number): boolean {
  const o = r * dim;
  const norm = Math.sqrt(dot(x, o, x, o, dim));
  if (!(norm > 0) || !Number.isFinite(norm)) return false;
  for (let i = 0; i < dim; i++) x[o + i] = (x[o + i] as number) / norm;
  return true;
}

/**
 * The K best (score, index) pairs seen so far, as a min-heap whose root is the weakest kept entry. Higher
 * scores win; between equal scores the lower index wins, so results do not depend on scan order.
 */
export class TopK {
  readonly scores: Float64Array;
  readonly indices: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
    this.indices = new Int32Array(k);
  }

  /** The score an entry must beat once the heap is full (−∞ before). */
  get threshold(): number {
    return this.size < this.k ? Number.NEGATIVE_INFINITY : (this.scores[0] as number);
  }

  clear(): void {
    this.size = 0;
  }

  push(score: number, index: number): void {
    if (this.k === 0) return;
    if (this.size < this.k) {
      let i = this.size++;
      // Sift up.
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.weaker(score, index, this.scores[p] as number, this.indices[p] as number)) break;
        this.scores[i] = this.scores[p] as number;
        this.indices[i] = this.indices[p] as number;
        i = p;
      }
      this.scores[i] = score;
      this.indices[i] = index;
      return;
    }
    if (!this.weaker(this.scores[0] as number, this.indices[0] as number, score, index)) return;
    // Replace the root and sift down.
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      const r = l + 1;
      if (
        r < n &&
        this.weaker(
          this.scores[r] as number,
          this.indices[r] as number,
          this.scores[l] as number,
          this.indices[l] as number,
        )
      )
        c = r;
      if (!this.weaker(this.scores[c] as number, this.indices[c] as number, score, index)) break;
      this.scores[i] = this.scores[c] as number;
      this.indices[i] = this.indices[c] as number;
      i = c;
    }
    this.scores[i] = score;
    this.indices[i] = index;
  }

  /** Kept entries, best first. */
  sorted(): { index: number; score: number }[] {
    const out: { index: number; score: number }[] = [];
    for (let i = 0; i < this.size; i++)
      out.push({ index: this.indices[i] as number, score: this.scores[i] as number });
    return out.sort((a, b) => b.score - a.score || a.index - b.index);
  }

  /** Whether (s1, i1) ranks below (s2, i2). */
  private weaker(s1: number, i1: number, s2: number, i2: number): boolean {
    return s1 < s2 || (s1 === s2 && i1 > i2);
  }
}

/**
 * 0-based rank of `scores[truth]` among `scores[0..n)`, counting ties against it: every other entry with
 * a score ≥ the true one ranks ahead (the pessimistic convention, so constant scores never look right).
 */
export function pessimisticRank(
  scores: Float32Array | Float64Array,
  offset: number,
  n: number,
  truth: number,
): number {
  const t = scores[offset + truth] as number;
  let rank = 0;
  for (let j = 0; j < n; j++) if (j !== truth && (scores[offset + j] as number) >= t) rank++;
  return rank;
}
