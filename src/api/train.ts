/** `juxta/train`: training runs (CLIP and SigLIP; SimCLR, MoCo, SupCon, triplet) and the compiled training step. */
export { createSiglipStep, siglipBias } from "../methods/siglip-step.js";
export { createMethodStep, IMAGE_METHODS, type ImageMethod, type MethodStep } from "../methods/steps.js";
export { type ImageMethodOptions, type ImageMethodResult, trainImageMethod } from "../methods/train.js";
export { type ClipTrainOptions, type ClipTrainResult, trainClip } from "../train/clip-trainer.js";
export { TrainStep } from "../train/step.js";
