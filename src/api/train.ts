/** `juxta/train`: the one training loop, the method records (clip, siglip, simclr, moco, supcon, triplet) and the compiled training step. */
export { type AccumSpec, AccumStep } from "../nn/accum-step.js";
export { TrainStep } from "../nn/train-step.js";
export { createMethodStep, type MethodBatch, type MethodStep } from "../train/images.js";
export { type TrainResult, train, trainClip, trainImageMethod } from "../train/loop.js";
export {
  IMAGE_METHODS,
  type ImageMethod,
  type ImageMethodName,
  METHOD_NAMES,
  METHODS,
  type Method,
  type MethodName,
  methodRecord,
  PAIR_METHODS,
  type PairMethod,
  type PairMethodName,
} from "../train/methods/index.js";
export type { ClipTrainOptions, ImageMethodOptions, TrainOptions } from "../train/options.js";
export { createPairAccumStep, createPairStep } from "../train/pairs.js";
