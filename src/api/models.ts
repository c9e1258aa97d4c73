/**
 * `juxta/models`: the model code (CLIP and the image-only encoder), named presets, and saving and loading
 * runs and pretrained Hugging Face / OpenCLIP folders.
 */
export { CLIP, type ClipConfig } from "../models/clip.js";
export { ClipEncoders } from "../models/encoders.js";
export {
  IMAGE_ENCODER_PRESETS,
  ImageEncoder,
  type ImageEncoderConfig,
  type ImageEncoderPreset,
  ImageFeatureEncoder,
  imageEncoderConfig,
} from "../models/image-encoder.js";
export { PRESETS, type PresetName, presetConfig } from "../models/presets.js";
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
} from "../models/saved.js";
export { detectFormat, loadClipModel, loadModel, type ModelFormat } from "../pretrained/open.js";
