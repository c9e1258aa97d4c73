/**
 * Triplet margin loss (Schroff et al. 2015, "FaceNet"; batch-hard mining from Hermans et al. 2017, "In
 * Defense of the Triplet Loss"): for an anchor a, a positive p (same label) and a negative n,
 *
 *   L = max(0, d(a, p) − d(a, n) + margin)
 *
 * over the triplets the miner picks from both views of N labelled images (batch_hard: each anchor's
 * farthest positive and nearest negative). Logged: `active`, the share of triplets with a non-zero loss.
 *
 *   await train({ method: "triplet", data: "labelled.jsonl", out: "runs/triplet", margin: 0.2 })
 */
import { tripletMarginLoss } from "../../losses/index.js";
import { IMAGE_METHOD_DEFAULTS, type ImageMethod } from "./method.js";

export const triplet: ImageMethod = {
  name: "triplet",
  family: "images",
  summary: "image encoder trained on class labels with a triplet margin loss and a miner",
  defaults: {
    ...IMAGE_METHOD_DEFAULTS,
    margin: 0.2,
    miner: "batch_hard",
    augment: "simclr",
  },
  labelled: true,
  settings: ["margin", "miner", "augment"],
  loss({ model, images, labels, n, settings }) {
    const z = model.forward(images);
    const both = (labels as NonNullable<typeof labels>)
      .unsqueeze(0)
      .expand([2, n])
      .reshape([2 * n]);
    const { loss, active } = tripletMarginLoss(z, both, {
      margin: settings.margin as number,
      miner: settings.miner as NonNullable<typeof settings.miner>,
    });
    return { loss, metrics: { active } };
  },
};
