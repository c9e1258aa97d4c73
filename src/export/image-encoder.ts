/**
 * `export --format onnx` of an image-only encoder (SimCLR, MoCo, SupCon, triplet): the layout
 * transformers.js's `image-feature-extraction` pipeline loads —
 *
 *   onnx/model.onnx            pixel_values float32 [batch_size, 3, S, S] → image_embeds, pooler_output
 *                              (both the backbone's features [batch_size, D], as Juxta's handle embeds)
 *   config.json                model_type "juxta_image_encoder" and Juxta's own config
 *   preprocessor_config.json   CLIPImageProcessor: the model's resize, centre crop and normalization
 *
 * transformers.js has no class for this architecture, so its AutoModel loads the graph as a plain
 * encoder (it logs "Unknown model class … constructing from base class"); the pipeline returns
 * `image_embeds`, or `pooler_output` with `{ pool: true }`. Standard ONNX ops only, weights baked in,
 * BatchNorm in evaluation mode (its running statistics).
 */
import { join } from "node:path";
import { compile, input, type WeightFormat } from "../engine/index.js";
import { serializeModel } from "../engine/onnx/model.js";
import type { LoadedImageEncoder } from "../models/saved.js";
import { bind, stateDict } from "../nn/index.js";
import { ensureDir, writeFileAtomic, writeJsonAtomic } from "../util/fs.js";
import { preprocessorConfig } from "./hf-files.js";
import { DTYPE_SUFFIX } from "./onnx.js";

export const IMAGE_ENCODER_ONNX_FILES = [
  "onnx/model.onnx",
  "config.json",
  "preprocessor_config.json",
] as const;

/** The files an export at `dtype` writes (onnx/model_quantized.onnx for q8, …). */
export const imageEncoderOnnxFiles = (dtype: WeightFormat = "fp32"): string[] => [
  `onnx/model${DTYPE_SUFFIX[dtype]}.onnx`,
  "config.json",
  "preprocessor_config.json",
];

export function exportImageEncoderOnnx(
  loaded: LoadedImageEncoder,
  out: string,
  opts: { dtype?: WeightFormat } = {},
): string[] {
  const { model, config } = loaded;
  const training = model.training;
  model.eval();
  bind(model);
  const s = model.imageSize;
  const pixels = input("pixel_values", ["batch_size", 3, s, s]);
  const features = model.features(pixels);
  const graph = compile(
    { image_embeds: features, pooler_output: features },
    { freeze: stateDict(model), contrib: false, name: "image_encoder", weights: opts.dtype },
  ).model;
  model.train(training);
  ensureDir(join(out, "onnx"));
  const files = imageEncoderOnnxFiles(opts.dtype);
  writeFileAtomic(join(out, files[0] as string), serializeModel(graph));
  writeJsonAtomic(join(out, "config.json"), {
    architectures: ["JuxtaImageEncoder"],
    model_type: "juxta_image_encoder",
    hidden_size: model.featureDim,
    image_size: s,
    num_channels: 3,
    juxta: { method: config.method, preset: config.preset, model: config.model, classes: config.classes },
    torch_dtype: "float32",
  });
  writeJsonAtomic(join(out, "preprocessor_config.json"), preprocessorConfig(loaded));
  return files;
}
