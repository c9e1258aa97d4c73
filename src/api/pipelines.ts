/**
 * `juxta/pipelines`: a model opened once (`openModel`) and used many times through `pipeline(task, model)`,
 * in the shape transformers.js users know.
 */
export type { ImageInput, RawPixels } from "../handle/inputs.js";
export {
  type HandleModel,
  type HandleOptions,
  type InferenceDtype,
  type ModelFamily,
  ModelHandle,
  type ModelTask,
} from "../handle/model.js";
export { type OpenModelOptions, openModel } from "../handle/open.js";
export {
  type EmbeddingTensor,
  type EmbedOptions,
  type FeatureExtractionPipeline,
  type ImageFeatureExtractionPipeline,
  PIPELINE_TASKS,
  type PipelineOptions,
  type PipelineTask,
  type PipelineTypes,
  pipeline,
  type RetrievalPipeline,
  type RetrievalQuery,
  type ZeroShotImageClassificationPipeline,
  type ZeroShotOptions,
} from "../pipelines/index.js";
export { DEFAULT_TEMPLATES, resolveTemplates, TEMPLATE_SETS } from "../pipelines/templates.js";
export { normalizedRows } from "../pipelines/vectors.js";
export { ZeroShotClassifier } from "../pipelines/zero-shot.js";
