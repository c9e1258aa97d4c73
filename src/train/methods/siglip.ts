/**
 * SigLIP (Zhai et al. 2023, "Sigmoid Loss for Language Image Pre-Training"): every image-text pair of the
 * batch is a binary problem, matching or not. With normalized embeddings, a learnable log-temperature t'
 * (the model's `logit_scale`, unclamped as in the paper) and a learnable bias b (`logit_bias`):
 *
 *   L = −(1/B) Σ_i Σ_j log σ(z_ij · (exp(t') · x_i·y_j + b)),   z_ij = 1 if i = j else −1
 *
 * t' starts at log 10 and b at −10 (the paper's values), so early on every pair looks negative. Logged:
 * exp(t') as `temperature`, b as `bias`, and the in-batch image→text accuracy.
 *
 *   await train({ method: "siglip", data: "pairs.jsonl", out: "runs/siglip", minutes: 5 })
 */
import type { Tensor } from "../../engine/index.js";
import { SIGLIP_INIT, siglipLoss } from "../../losses/siglip.js";
import { inBatchAccuracy } from "./accuracy.js";
import { PAIR_METHOD_DEFAULTS, type PairMethod, VIT_ADAM } from "./method.js";

export const siglip: PairMethod = {
  name: "siglip",
  family: "pairs",
  summary: "pairwise sigmoid loss with a learned bias (t starts at 10, b at -10)",
  defaults: PAIR_METHOD_DEFAULTS,
  adam: VIT_ADAM,
  initLogitScale: SIGLIP_INIT.logTemperature,
  prepare(model, start) {
    const said: string[] = [];
    if (start === "init" && model.logit_bias === undefined) {
      // A softmax-trained temperature means nothing to the sigmoid loss: start t and b as SigLIP does.
      model.logit_scale.data[0] = SIGLIP_INIT.logTemperature;
      said.push(
        `siglip: logit_scale reset to log ${Math.exp(SIGLIP_INIT.logTemperature)}, bias ${SIGLIP_INIT.bias}`,
      );
    }
    model.addLogitBias(SIGLIP_INIT.bias);
    return said;
  },
  loss(model, image: Tensor, text: Tensor) {
    const logT = model.logit_scale.value;
    const bias = (model.logit_bias as NonNullable<typeof model.logit_bias>).value;
    const { loss, logits } = siglipLoss(image, text, logT, bias);
    return { loss, metrics: { temperature: logT.exp(), bias, accuracy: inBatchAccuracy(logits) } };
  },
};
