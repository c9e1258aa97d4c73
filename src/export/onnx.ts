/**
 * `export --format onnx`: the folder layout transformers.js reads for CLIP — `onnx/model.onnx` (the
 * zero-shot-image-classification pipeline's AutoModel → CLIPModel), `onnx/text_model.onnx`
 * (CLIPTextModelWithProjection), `onnx/vision_model.onnx` (CLIPVisionModelWithProjection) — with the
 * Hugging Face config, preprocessor and tokenizer files beside them.
 */
import { join } from "node:path";
import { serializeModel } from "../engine/onnx/model.js";
import type { LoadedClip } from "../models/saved.js";
import { requireVit } from "../pretrained/hf.js";
import { UserError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import { clipOnnxGraphs } from "./graphs.js";
import { SIDE_FILES, writeHfSideFiles } from "./hf-files.js";

export interface OnnxExportOptions {
  /** Only "q8" is a recognised request, and it is refused: see {@link QUANTIZE_UNAVAILABLE}. */
  quantize?: string;
}

/** Why `--quantize` is refused rather than approximated. */
export const QUANTIZE_UNAVAILABLE =
  "--quantize q8 is not available: transformers.js's *_quantized.onnx files are made by ONNX Runtime's " +
  "Python quantizer (onnxruntime.quantization.quantize_dynamic), and no maintained npm package quantizes " +
  "ONNX models offline. Export fp32 (the default) and quantize with that tool if you need q8.";

/** Files written, relative to the output folder. */
export const ONNX_FILES = ["onnx/model.onnx", "onnx/text_model.onnx", "onnx/vision_model.onnx"] as const;

/** Refuses any quantization request (before a model is opened), naming why. */
export function checkQuantize(quantize: string | undefined): void {
  if (quantize === undefined) return;
  if (quantize !== "q8") throw new UserError(`--quantize: expected q8, got '${quantize}'`);
  throw new UserError(QUANTIZE_UNAVAILABLE);
}

export function exportOnnx(loaded: LoadedClip, out: string, opts: OnnxExportOptions = {}): string[] {
  checkQuantize(opts.quantize);
  requireVit(loaded.model.cfg);
  ensureDir(join(out, "onnx"));
  const graphs = clipOnnxGraphs(loaded.model);
  writeFileAtomic(join(out, "onnx", "model.onnx"), serializeModel(graphs.joint));
  writeFileAtomic(join(out, "onnx", "text_model.onnx"), serializeModel(graphs.text));
  writeFileAtomic(join(out, "onnx", "vision_model.onnx"), serializeModel(graphs.vision));
  writeHfSideFiles(loaded, out);
  return [...ONNX_FILES, ...SIDE_FILES];
}
