/**
 * Patch dropout (Li et al. 2023, "Scaling Language-Image Pre-training via Masking" (FLIP); open_clip's
 * `patch_dropout`): during training the ViT image tower sees a random subset of its patch tokens, so a step
 * costs less (about half the image tower's work at 0.5) and an image is never seen twice the same way.
 * The class token is always kept; positions are added before the drop, so each kept patch keeps its place.
 * Inference graphs never drop anything: the tokens to keep are an input of the training step only.
 *
 *   const keep = patchKeepIndices(batch, 64, 0.5, key);   // host side, per step: Int32Array [batch × 33]
 *   model.encodeImage(images, false, keepTensor);          // traced: [B, 65, W] rows gathered to [B, 33, W]
 */
import { Rng } from "../engine/random.js";

/** Patch tokens kept of `patches` at drop fraction `p` (open_clip's rule: at least one). */
export function patchesKept(patches: number, p: number): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`patch dropout must be in [0, 1), got ${p}`);
  return Math.max(1, Math.floor(patches * (1 - p)));
}

/**
 * For each of `batch` images, its class token and `patchesKept(patches, p)` of its patch tokens chosen
 * uniformly without replacement (in token order), as row indices into the tokens flattened to
 * [batch × (patches + 1)]: the index list the training step's gather takes. `key` (per step) fixes the choice.
 */
export function patchKeepIndices(batch: number, patches: number, p: number, key: number): Int32Array {
  const kept = patchesKept(patches, p);
  const rng = new Rng(key);
  const out = new Int32Array(batch * (kept + 1));
  const order = new Int32Array(patches);
  const chosen = new Int32Array(kept);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < patches; i++) order[i] = i;
    // A partial Fisher-Yates shuffle: the first `kept` entries are a uniform sample.
    for (let i = 0; i < kept; i++) {
      const j = i + rng.int(patches - i);
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    chosen.set(order.subarray(0, kept));
    chosen.sort();
    const base = b * (patches + 1);
    const at = b * (kept + 1);
    out[at] = base;
    for (let i = 0; i < kept; i++) out[at + 1 + i] = base + 1 + (chosen[i] as number);
  }
  return out;
}
