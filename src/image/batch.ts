/**
 * Filling one training batch from a PixelStore: every view of every sample augmented into a float32
 * [views · B, 3, S, S] buffer, view-major (all first views, then all second views). Shared by the loader's
 * worker threads and its synchronous mode, so both produce the same numbers.
 */
import { type AugmentConfig, augmentInto, augmentKey, type Normalization } from "./augment.js";
import type { PixelStore } from "./store.js";

export interface BatchSpec {
  size: number;
  views: number;
  seed: number;
  augment: AugmentConfig;
  norm: Normalization;
}

export function augmentBatch(
  store: PixelStore,
  spec: BatchSpec,
  epoch: number,
  indices: readonly number[],
): Float32Array {
  const b = indices.length;
  const out = new Float32Array(spec.views * b * 3 * spec.size * spec.size);
  for (let v = 0; v < spec.views; v++) {
    for (let k = 0; k < b; k++) {
      const index = indices[k] as number;
      const key = augmentKey(spec.seed, epoch, index, v);
      augmentInto(store.get(index), spec.size, spec.augment, spec.norm, key, out, v * b + k);
    }
  }
  return out;
}
