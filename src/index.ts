/** Juxta's public API: one import for the layers a TypeScript user builds on. */

// Training: the loop, the method records and the compiled step (the same names as `juxta/train`).
export * from "./api/train.js";
export * from "./apps/index.js";
export { measureMethodOverhead, type OverheadOptions, type OverheadResult } from "./bench/overhead.js";
export { buildEmojiDataset } from "./data/emoji.js";
export { type Batch, Loader, type LoaderOptions } from "./data/loader.js";
export { openDataset } from "./data/open.js";
export type { DatasetOptions } from "./data/options.js";
export { type ImageRef, type Sample, SkipLog } from "./data/types.js";
export { mergeShards } from "./distributed/merge.js";
export {
  embedQueueStatus,
  enqueueEmbedding,
  type QueueRef,
  type QueueStatus,
  runEmbedWorker,
} from "./distributed/queue.js";
export * as engine from "./engine/index.js";
export { evaluateImageEncoder, type ImageEvalOptions, type ImageEvalResult } from "./eval/image-encoder.js";
export { exportModel } from "./export/index.js";
export type { ImageInput, RawPixels } from "./handle/inputs.js";
export {
  type HandleModel,
  type HandleOptions,
  type InferenceDtype,
  type ModelFamily,
  ModelHandle,
  type ModelTask,
} from "./handle/model.js";
export { type OpenModelOptions, openModel } from "./handle/open.js";
export {
  type HubEnv,
  HubUnreachable,
  hubEnv,
  isHubName,
  parseHubName,
  type ResolveOptions,
  resolveModelSource,
} from "./hub/index.js";
export * from "./losses/index.js";
export { CLIP, type ClipConfig } from "./models/clip.js";
export { ClipEncoders } from "./models/encoders.js";
export {
  IMAGE_ENCODER_PRESETS,
  ImageEncoder,
  type ImageEncoderConfig,
  type ImageEncoderPreset,
  ImageFeatureEncoder,
  imageEncoderConfig,
} from "./models/image-encoder.js";
export { PRESETS, type PresetName, presetConfig } from "./models/presets.js";
export {
  type Architecture,
  type ClipMethod,
  isImageEncoderDir,
  type LoadedClip,
  type LoadedImageEncoder,
  type LoadedRun,
  loadClip,
  loadImageEncoder,
  loadRun,
  type Preprocess,
  saveClip,
  saveImageEncoder,
} from "./models/saved.js";
export * from "./moderate/index.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
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
} from "./pipelines/index.js";
export { normalizedRows } from "./pipelines/vectors.js";
export { ZeroShotClassifier } from "./pipelines/zero-shot.js";
export { detectFormat, loadClipModel, loadModel, type ModelFormat } from "./pretrained/open.js";
export {
  DEFAULT_DEDUP_THRESHOLD,
  type DedupOptions,
  type DedupResult,
  type DuplicateGroup,
  dedupVectors,
  findDuplicates,
  groupPairs,
  type NeighbourIndex,
  neighbourPairs,
} from "./search/dedup.js";
export { VectorIndex } from "./search/index.js";
export {
  loadTokenizer,
  parseTokenizerJson,
  saveTokenizerJson,
  Tokenizer,
  tokenizerJson,
  trainBpe,
} from "./text/index.js";
export { UserError } from "./util/errors.js";
