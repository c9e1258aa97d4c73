/**
 * MoCo's InfoNCE loss against a queue of negative keys (He et al. 2020, "Momentum Contrast for
 * Unsupervised Visual Representation Learning"; Chen et al. 2020, "Improved Baselines with Momentum
 * Contrastive Learning" for v2's τ = 0.2).
 *
 *   lᵢ = [ q̂ᵢ·k̂ᵢ , q̂ᵢ·Q₁ , …, q̂ᵢ·Q_K ] / τ    (logits [N, 1 + K]; q̂, k̂ L2-normalized; Q: queue [K, D])
 *   loss = −(1/N) Σᵢ log softmax(lᵢ)₀
 *
 * The positive of query i is its key kᵢ (from the momentum encoder, detached here: no gradient reaches the
 * keys); the K queued keys of earlier batches are the negatives. Reduction: mean over the N queries.
 * The queue is a graph input [K, D]; after each step enqueue the batch's `keys` output with `Queue`
 * (first in, first out). K must be a multiple of the batch size so that batches never straddle the end.
 *
 * Example:
 *   const queue = new Queue(4096, 128);
 *   const { loss, keys } = mocoLoss(q, k, input("queue", [4096, 128]));
 *   // each step: run with { queue: queue.data, … }, then queue.enqueue(out.keys.data)
 */
import { concat, type Tensor } from "../engine/index.js";
import { fillNormal, streamKey } from "../engine/random.js";
import { l2Normalize } from "../nn/index.js";
import { UserError } from "../util/errors.js";

export function mocoLoss(
  q: Tensor,
  k: Tensor,
  queue: Tensor,
  opts: { temperature?: number; normalized?: boolean } = {},
): { loss: Tensor; logits: Tensor; keys: Tensor } {
  const n = q.shape[0];
  const size = queue.shape[0];
  if (typeof n === "number" && typeof size === "number" && size % n !== 0) {
    throw new UserError(`mocoLoss: the queue size ${size} must be a multiple of the batch size ${n}`);
  }
  const qn = opts.normalized ? q : l2Normalize(q);
  const keys = (opts.normalized ? k : l2Normalize(k)).detach();
  const negatives = opts.normalized ? queue : l2Normalize(queue);
  const positive = qn.mul(keys).sum(-1, true);
  const logits = concat([positive, qn.matmul(negatives.detach(), { transB: true })], 1).div(
    opts.temperature ?? 0.2,
  );
  const loss = logits.logSoftmax(1).slice(1, 0, 1).mean().neg();
  return { loss, logits, keys };
}

/**
 * The key queue: K rows of D values, first in first out. Starts with random unit vectors (as MoCo), seeded.
 * Feed `data` as the queue input ([K, D], row-major); `enqueue` the step's keys after it ran.
 */
export class Queue {
  readonly data: Float32Array | Float64Array;
  private next = 0;

  constructor(
    readonly size: number,
    readonly dim: number,
    opts: { seed?: number; dtype?: "float32" | "float64" } = {},
  ) {
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(dim) || dim < 1) {
      throw new UserError(`Queue: size and dim must be positive integers, got ${size} and ${dim}`);
    }
    this.data = opts.dtype === "float64" ? new Float64Array(size * dim) : new Float32Array(size * dim);
    fillNormal(this.data, streamKey(opts.seed ?? 0, "moco-queue"));
    for (let r = 0; r < size; r++) {
      const row = this.data.subarray(r * dim, (r + 1) * dim);
      let sq = 0;
      for (const v of row) sq += v * v;
      const norm = Math.sqrt(sq);
      for (let i = 0; i < dim; i++) row[i] = (row[i] as number) / norm;
    }
  }

  /** Replace the oldest rows with these keys ([B, D] row-major); B must divide the queue size. */
  enqueue(keys: ArrayLike<number>): void {
    const batch = keys.length / this.dim;
    if (!Number.isInteger(batch) || batch < 1) {
      throw new UserError(`Queue.enqueue: expected B × ${this.dim} values, got ${keys.length}`);
    }
    if (this.size % batch !== 0) {
      throw new UserError(
        `Queue.enqueue: the queue size ${this.size} must be a multiple of the batch size ${batch}`,
      );
    }
    this.data.set(keys, this.next * this.dim);
    this.next = (this.next + batch) % this.size;
  }

  /** The row the next enqueue writes (a checkpoint's resume sets it from the step count). */
  get position(): number {
    return this.next;
  }

  set position(row: number) {
    if (!Number.isInteger(row) || row < 0 || row >= this.size)
      throw new UserError(`Queue.position: expected a row in [0, ${this.size}), got ${row}`);
    this.next = row;
  }
}
