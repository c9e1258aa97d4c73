/**
 * `export --format onnx`: the folder layout transformers.js reads for CLIP — `onnx/model.onnx` (the
 * zero-shot-image-classification pipeline's AutoModel → CLIPModel), `onnx/text_model.onnx`
 * (CLIPTextModelWithProjection), `onnx/vision_model.onnx` (CLIPVisionModelWithProjection) — with the
 * Hugging Face config, preprocessor and tokenizer files beside them. `--dtype fp16|q8` writes the same
 * graphs under transformers.js's names for that dtype (`onnx/vision_model_quantized.onnx`,
 * `onnx/text_model_fp16.onnx`, …): standard ONNX ops only (q8 as DynamicQuantizeLinear + MatMulInteger,
 * the form ONNX Runtime's `quantize_dynamic` writes), float32 inputs and outputs. The image tower may be a
 * ViT or a ResNet (config.json then describes the ResNet under `vision_config.juxta_image_tower`).
 */
import { join } from "node:path";
import type { WeightFormat } from "../engine/index.js";
import { serializeModel } from "../engine/onnx/model.js";
import type { LoadedClip } from "../models/saved.js";
import { requireVit } from "../pretrained/hf.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import { clipOnnxGraphs } from "./graphs.js";
import { SIDE_FILES, writeHfSideFiles } from "./hf-files.js";

export interface OnnxExportOptions {
  /** Weight precision (default fp32); each writes the file names transformers.js's `dtype` option loads. */
  dtype?: WeightFormat;
}

/** transformers.js's file suffix per dtype: `dtype: "q8"` loads onnx/vision_model_quantized.onnx. */
export const DTYPE_SUFFIX: Readonly<Record<WeightFormat, string>> = {
  fp32: "",
  fp16: "_fp16",
  q8: "_quantized",
};

/** The ONNX files an export at `dtype` writes, relative to the output folder. */
export const onnxFiles = (dtype: WeightFormat = "fp32"): string[] =>
  ["model", "text_model", "vision_model"].map((m) => `onnx/${m}${DTYPE_SUFFIX[dtype]}.onnx`);

/** Files written at fp32, relative to the output folder. */
export const ONNX_FILES = ["onnx/model.onnx", "onnx/text_model.onnx", "onnx/vision_model.onnx"] as const;

export function exportOnnx(loaded: LoadedClip, out: string, opts: OnnxExportOptions = {}): string[] {
  // transformers.js runs the graphs as they are, so a ResNet image tower exports too; SigLIP's towers do not
  // fit the CLIPModel layout.
  if (loaded.model.cfg.vision.type !== "resnet") requireVit(loaded.model.cfg);
  ensureDir(join(out, "onnx"));
  const graphs = clipOnnxGraphs(loaded.model, opts.dtype);
  const files = onnxFiles(opts.dtype);
  [graphs.joint, graphs.text, graphs.vision].forEach((g, i) => {
    writeFileAtomic(join(out, files[i] as string), serializeModel(g));
  });
  writeHfSideFiles(loaded, out);
  return [...files, ...SIDE_FILES];
}
