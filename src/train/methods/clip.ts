/**
 * CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision"):
 * symmetric InfoNCE over a batch of B image-text pairs. With normalized embeddings x_i (images), y_j
 * (texts) and a learnable logit scale s = exp(t),
 *
 *   L = ½ · (CE(s · X Yᵀ, I) + CE(s · Y Xᵀ, I))
 *
 * Logged: the scale s (as `temperature`, open_clip's name for it) and the in-batch image→text accuracy.
 *
 *   await train({ method: "clip", data: "pairs.jsonl", out: "runs/clip", minutes: 5 })
 */
import type { Tensor } from "../../engine/index.js";
import { clipLoss } from "../../losses/clip.js";
import { inBatchAccuracy } from "./accuracy.js";
import { PAIR_METHOD_DEFAULTS, type PairMethod, VIT_ADAM } from "./method.js";

export const clip: PairMethod = {
  name: "clip",
  family: "pairs",
  summary: "softmax contrastive loss on image-text pairs",
  defaults: PAIR_METHOD_DEFAULTS,
  adam: VIT_ADAM,
  prepare(model) {
    // A model trained on with the softmax loss has no use for SigLIP's bias.
    model.removeLogitBias();
    return [];
  },
  loss(model, image: Tensor, text: Tensor) {
    const scale = model.scale();
    const { loss, logits } = clipLoss(image, text, scale);
    return { loss, metrics: { temperature: scale, accuracy: inBatchAccuracy(logits) } };
  },
};
