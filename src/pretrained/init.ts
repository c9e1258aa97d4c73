/**
 * Fine-tuning from a pretrained model: the starting weights (any folder `loadModel` reads: a Juxta run, a
 * Hugging Face or an OpenCLIP folder) and which towers stay frozen. Locking the image tower and training
 * the text tower is LiT (Zhai et al., "LiT: Zero-Shot Transfer with Locked-image text Tuning", 2022); the
 * temperature `logit_scale` is trained whatever is locked, as there.
 */
import type { CLIP } from "../models/clip.js";
import type { LoadedClip } from "../models/saved.js";
import type { Parameter } from "../nn/index.js";
import { loadClipModel, type OpenOptions } from "./open.js";

export interface LockOptions {
  lockImage?: boolean;
  lockText?: boolean;
}

/** The model, tokenizer and preprocessing to start training from. */
export function loadInit(dir: string, opts: OpenOptions = {}): LoadedClip {
  return loadClipModel(dir, opts);
}

/**
 * The trainable filter for a run with locked towers (`TrainStep`'s `trainable`): true for the parameters
 * that are trained, false for those of a locked tower.
 */
export function lockedParams(model: CLIP, opts: LockOptions): (p: Parameter) => boolean {
  // parameters() renames what it visits, so each tower is walked under its own prefix.
  const locked = new Set<Parameter>([
    ...(opts.lockImage ? model.visual.parameters("visual") : []),
    ...(opts.lockText ? model.text.parameters("text") : []),
  ]);
  return (p) => !locked.has(p);
}
