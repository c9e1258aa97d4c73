/**
 * SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations"):
 * two augmented views of each of N images; each view's positive is the other view of its image and the
 * other 2N − 2 views are negatives. NT-Xent with similarity sim (cosine by default) and temperature τ:
 *
 *   ℓ(i, j) = −log( exp(sim(z_i, z_j)/τ) / Σ_{k≠i} exp(sim(z_i, z_k)/τ) ),  averaged over all 2N views
 *
 * Logged: the in-batch accuracy of finding the other view.
 *
 *   await train({ method: "simclr", data: "images/", out: "runs/simclr", minutes: 3 })
 */
import { ntxentLoss } from "../../losses/index.js";
import { inBatchAccuracy } from "./accuracy.js";
import { IMAGE_METHOD_DEFAULTS, type ImageMethod } from "./method.js";

export const simclr: ImageMethod = {
  name: "simclr",
  family: "images",
  summary: "self-supervised image encoder: NT-Xent between two augmented views of each image",
  defaults: {
    ...IMAGE_METHOD_DEFAULTS,
    temperature: 0.5,
    augment: "simclr",
  },
  labelled: false,
  settings: ["temperature", "similarity", "augment"],
  loss({ model, images, n, settings }) {
    const z = model.forward(images);
    const { loss, logits } = ntxentLoss(z.slice(0, 0, n), z.slice(0, n, 2 * n), {
      temperature: settings.temperature,
      similarity: settings.similarity,
    });
    return { loss, metrics: { accuracy: inBatchAccuracy(logits, (i) => (i + n) % (2 * n)) } };
  },
};
