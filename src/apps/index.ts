/**
 * The application layer: evaluate, embed, classify, index/search and report on CLIP models; evaluate and
 * embed on image-only encoders.
 */
export { type Classification, classifyImages, type LabelScore, parseLabels } from "./classify.js";
export { type Embeddings, type EmbedInputs, embedInputs, readTexts, writeEmbeddings } from "./embed.js";
export { type ClipLike, Embedder, type EmbedderOptions, logitScale, normalizedRows } from "./embedder.js";
export {
  type EvalOptions,
  type EvalResult,
  type EvalSet,
  evaluateClip,
  evalValues,
  formatEval,
  loadEvalSet,
} from "./evaluate.js";
export { embedImageFeatures, evaluateImageModel, formatImageEval } from "./image-encoder.js";
export {
  type IndexModel,
  type IndexQuery,
  type IndexUpdate,
  type IndexUpdateOptions,
  readIndexModel,
  searchImageIndex,
  updateImageIndex,
} from "./image-index.js";
export { type ImageItem, imageId, listImages } from "./images.js";
export { buildRunReport, type RunReportOptions, thumbnail } from "./report.js";
export { DEFAULT_TEMPLATES, resolveTemplates, TEMPLATE_SETS } from "./templates.js";
