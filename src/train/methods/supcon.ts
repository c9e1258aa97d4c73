/**
 * Supervised contrastive learning (Khosla et al. 2020, "Supervised Contrastive Learning"): as SimCLR over
 * two views of N labelled images, but every view with the same label is a positive (P(i)):
 *
 *   L = Σ_i −1/|P(i)| Σ_{p∈P(i)} log( exp(z_i·z_p/τ) / Σ_{a≠i} exp(z_i·z_a/τ) )
 *
 * τ = 0.1 (the paper's CIFAR setting), the loss scaled by τ/τ_base with τ_base = τ.
 *
 * `views` (default 2, the paper's) sets the augmented views of each image. The labels already give every
 * image positives, so one view also trains: the same step then holds twice the distinct images, which on
 * Fashion-MNIST learned more per minute (docs/experiments/fashion-mnist.md).
 *
 *   await train({ method: "supcon", data: "labelled.jsonl", out: "runs/supcon", minutes: 3 })
 */
import { supConLoss } from "../../losses/index.js";
import { OptionError } from "../../util/errors.js";
import { IMAGE_METHOD_DEFAULTS, type ImageMethod } from "./method.js";

export const supcon: ImageMethod = {
  name: "supcon",
  family: "images",
  summary: "image encoder trained on class labels: positives are all views with the same label",
  defaults: {
    ...IMAGE_METHOD_DEFAULTS,
    temperature: 0.1,
    augment: "simclr",
    views: 2,
  },
  labelled: true,
  settings: ["temperature", "augment", "views"],
  check({ views }) {
    if (views !== undefined && !(Number.isInteger(views) && views >= 1))
      throw new OptionError(`{views} ${views}: expected a whole number of views per image, 1 or more`);
  },
  loss({ model, images, labels, n, views, settings }) {
    const z = model.forward(images);
    const d = z.shape[1] as number;
    const features = z.reshape([views, n, d]).transpose([1, 0, 2]);
    const temperature = settings.temperature as number;
    return {
      loss: supConLoss(features, labels as NonNullable<typeof labels>, {
        temperature,
        baseTemperature: temperature,
      }).loss,
    };
  },
};
