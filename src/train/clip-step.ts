/**
 * CLIP's compiled training step: both towers, the symmetric InfoNCE loss, and the metrics a run logs
 * (in-batch image→text accuracy and the temperature), as one ONNX model.
 */
import { arange, type SessionOptions, type Tensor } from "../engine/index.js";
import { clipLoss } from "../losses/clip.js";
import type { CLIP } from "../models/clip.js";
import type { Parameter } from "../nn/module.js";
import { TrainStep } from "./step.js";

export interface ClipStepOptions {
  batch: number;
  /**
   * Token positions per caption (default: the context length). Fewer are exact when every caption's
   * end-of-text token lies within them: the text tower is causal and pools there, so later positions never
   * reach the loss, and their gradients are zero either way.
   */
  textLength?: number;
  trainable?: (p: Parameter) => boolean;
  session?: SessionOptions;
}

export function createClipStep(model: CLIP, opts: ClipStepOptions): Promise<TrainStep> {
  const { imageSize } = model.cfg.vision;
  const textLength = opts.textLength ?? model.cfg.text.contextLength;
  const b = opts.batch;
  return TrainStep.create({
    model,
    inputs: {
      images: { shape: [b, 3, imageSize, imageSize] },
      tokens: { shape: [b, textLength], dtype: "int32" },
    },
    loss: ({ images, tokens }) => {
      const scale = model.scale();
      const { loss, logits } = clipLoss(
        model.encodeImage(images as Tensor),
        model.encodeText(tokens as Tensor),
        scale,
      );
      return { loss, metrics: { accuracy: inBatchAccuracy(logits), temperature: scale } };
    },
    trainable: opts.trainable,
    session: opts.session,
  });
}

/** Fraction of images whose own caption scores highest in their row. */
function inBatchAccuracy(logits: Tensor): Tensor {
  const n = logits.shape[0] as number;
  const hits = logits.detach().argmax(1).eq(arange(n)).cast("float32");
  return hits.mean();
}
