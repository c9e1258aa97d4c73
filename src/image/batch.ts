/**
 * Filling one training batch: every view of every sample augmented into a float32 [views · B, 3, S, S]
 * buffer, view-major (all first views, then all second views). Shared by the loader's worker threads and its
 * synchronous mode, and by the cached (PixelStore) and streamed loaders, so all produce the same numbers for
 * the same image and augmentation key.
 */
import { type AugmentConfig, augmentInto, augmentKey, type Normalization } from "./augment.js";
import type { RgbImage } from "./decode.js";
import type { PixelStore } from "./store.js";

export interface BatchSpec {
  size: number;
  views: number;
  seed: number;
  augment: AugmentConfig;
  norm: Normalization;
}

/**
 * Augment `image(k)` for k < keys.length, each view's randomness drawn from (seed, epoch, keys[k], view):
 * the key is where the sample sits in the run (a store index, or a position in the epoch's stream).
 */
export function augmentImages(
  image: (k: number) => RgbImage,
  keys: readonly number[],
  spec: BatchSpec,
  epoch: number,
): Float32Array {
  const b = keys.length;
  const out = new Float32Array(spec.views * b * 3 * spec.size * spec.size);
  for (let v = 0; v < spec.views; v++) {
    for (let k = 0; k < b; k++) {
      const key = augmentKey(spec.seed, epoch, keys[k] as number, v);
      augmentInto(image(k), spec.size, spec.augment, spec.norm, key, out, v * b + k);
    }
  }
  return out;
}

export function augmentBatch(
  store: PixelStore,
  spec: BatchSpec,
  epoch: number,
  indices: readonly number[],
): Float32Array {
  return augmentImages((k) => store.get(indices[k] as number), indices, spec, epoch);
}
