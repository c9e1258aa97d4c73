/** `juxta/eval`: zero-shot accuracy, retrieval recall, kNN and linear-probe evaluation. */
export {
  type EvalOptions,
  type EvalResult,
  type EvalSet,
  evaluateClip,
  formatEval,
  loadEvalSet,
} from "../apps/evaluate.js";
export { evaluateImageModel, formatImageEval } from "../apps/image-encoder.js";
export { classCount, type KnnOptions, type KnnResult, knnAccuracy } from "../eval/knn.js";
export { type LinearProbeOptions, type LinearProbeResult, linearProbe } from "../eval/linear-probe.js";
export { type RecallAtK, type RetrievalRecall, retrievalRecall } from "../eval/retrieval.js";
export {
  classEmbeddings,
  EMOJI_TEMPLATES,
  fillTemplate,
  PHOTO_TEMPLATES,
  type ZeroShotResult,
  zeroShotAccuracy,
} from "../eval/zeroshot.js";
export { evaluateImageEncoder, type ImageEvalOptions, type ImageEvalResult } from "../methods/evaluate.js";
