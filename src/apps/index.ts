/**
 * The application layer (what the commands do): embed, index and search for every model family; classify
 * and CLIP evaluation for models with a text tower; kNN and linear-probe evaluation of image-only encoders;
 * run reports.
 */

export { type ImageItem, imageId, listImages } from "../data/image-set.js";
export {
  type ClipLike,
  type EvalOptions,
  type EvalResult,
  type EvalSet,
  evaluateClip,
  evalValues,
  loadEvalSet,
} from "../eval/clip.js";
export { DEFAULT_TEMPLATES, resolveTemplates, TEMPLATE_SETS } from "../pipelines/templates.js";
export { type Classification, classifyImages, type LabelScore, parseLabels } from "./classify.js";
export { type Embeddings, type EmbedInputs, embedInputs, readTexts, writeEmbeddings } from "./embed.js";
export { formatEval } from "./evaluate.js";
export { evaluateImageModel, formatImageEval } from "./image-encoder.js";
export {
  type IndexModel,
  type IndexQuery,
  type IndexSearchOptions,
  type IndexUpdate,
  type IndexUpdateOptions,
  readIndexModel,
  searchImageIndex,
  updateImageIndex,
} from "./image-index.js";
export { buildRunReport, type RunReportOptions, thumbnail } from "./report.js";
