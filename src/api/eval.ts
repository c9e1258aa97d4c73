/** `juxta/eval`: zero-shot accuracy, retrieval recall, kNN and linear-probe evaluation. */
export { formatEval } from "../apps/evaluate.js";
export { evaluateImageModel, formatImageEval } from "../apps/image-encoder.js";
export {
  type EvalOptions,
  type EvalResult,
  type EvalSet,
  evaluateClip,
  evalValues,
  loadEvalSet,
} from "../eval/clip.js";
export { evaluateImageEncoder, type ImageEvalOptions, type ImageEvalResult } from "../eval/image-encoder.js";
export { classCount, type KnnOptions, type KnnResult, knnAccuracy } from "../eval/knn.js";
export { type LinearProbeOptions, type LinearProbeResult, linearProbe } from "../eval/linear-probe.js";
export { type RecallAtK, type RetrievalRecall, retrievalRecall } from "../eval/retrieval.js";
export { type ZeroShotResult, zeroShotAccuracy } from "../eval/zeroshot.js";
export {
  classEmbeddings,
  EMOJI_TEMPLATES,
  fillTemplate,
  PHOTO_TEMPLATES,
} from "../pipelines/templates.js";
