/**
 * SigLIP's compiled training step (Zhai et al. 2023) for a CLIP model: both towers, the pairwise sigmoid
 * loss with a learnable log-temperature t' (the model's `logit_scale`, unclamped as in the paper; start it
 * at SIGLIP_INIT.logTemperature through the config's `initLogitScale`) and a learnable bias b
 * (`logit_bias`, a parameter outside the CLIP module made by `siglipBias`), and the metrics a run logs
 * (in-batch image→text accuracy, t and b). Parameter names are the model's own plus `logit_bias`, as in
 * OpenCLIP's SigLIP models, so the optimizer state lines up with a CLIP run's.
 */
import { arange, type SessionOptions, type Tensor } from "../engine/index.js";
import { SIGLIP_INIT, siglipLoss } from "../losses/index.js";
import type { CLIP } from "../models/clip.js";
import type { TextTransformer } from "../models/text.js";
import { Module, Parameter } from "../nn/module.js";
import { TrainStep } from "../train/step.js";

export interface SiglipStepOptions {
  batch: number;
  /** The learnable bias b (from `siglipBias()`, or restored from a checkpoint). */
  bias: Parameter;
  trainable?: (p: Parameter) => boolean;
  session?: SessionOptions;
  /** Token positions per caption (default: the context length); see ClipStepOptions.textLength. */
  textLength?: number;
}

/** SigLIP's bias b as a scalar parameter (no weight decay), initialized to −10. */
export function siglipBias(value: number = SIGLIP_INIT.bias): Parameter {
  const p = new Parameter([], { kind: "constant", value }, false);
  p.name = "logit_bias";
  p.initialize(0);
  return p;
}

/** The CLIP model's towers and temperature plus the bias, under the names OpenCLIP's SigLIP uses. */
class SiglipModel extends Module {
  visual: CLIP["visual"];
  text: TextTransformer;
  logit_scale: Parameter;
  logit_bias: Parameter;

  constructor(clip: CLIP, bias: Parameter) {
    super();
    this.visual = clip.visual;
    this.text = clip.text;
    this.logit_scale = clip.logit_scale;
    this.logit_bias = bias;
  }
}

export function createSiglipStep(model: CLIP, opts: SiglipStepOptions): Promise<TrainStep> {
  const { imageSize } = model.cfg.vision;
  const textLength = opts.textLength ?? model.cfg.text.contextLength;
  const b = opts.batch;
  return TrainStep.create({
    model: new SiglipModel(model, opts.bias),
    inputs: {
      images: { shape: [b, 3, imageSize, imageSize] },
      tokens: { shape: [b, textLength], dtype: "int32" },
    },
    loss: ({ images, tokens }) => {
      const logT = model.logit_scale.value;
      const bias = opts.bias.value;
      const { loss, logits } = siglipLoss(
        model.encodeImage(images as Tensor),
        model.encodeText(tokens as Tensor),
        logT,
        bias,
      );
      const hits = logits.detach().argmax(1).eq(arange(b)).cast("float32").mean();
      return { loss, metrics: { accuracy: hits, temperature: logT.exp(), bias } };
    },
    trainable: opts.trainable,
    session: opts.session,
  });
}
