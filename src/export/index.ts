/**
 * Exporting a model Juxta opens (a run of any method, a Hugging Face or an OpenCLIP folder) for other
 * runtimes: CLIP and SigLIP models as ONNX (transformers.js layout) or a Hugging Face folder; image-only
 * encoders as ONNX in the layout of transformers.js's image-feature-extraction pipeline.
 */
import { resolve } from "node:path";
import { WEIGHT_FORMATS, type WeightFormat } from "../engine/index.js";
import { isLoadedClip } from "../models/saved.js";
import { loadModel } from "../pretrained/open.js";
import { OptionError, UserError } from "../util/errors.js";
import { exportHf } from "./hf.js";
import { exportImageEncoderOnnx } from "./image-encoder.js";
import { exportOnnx } from "./onnx.js";
import { exportOpenClip } from "./openclip.js";

export { type ClipOnnxGraphs, clipOnnxGraphs } from "./graphs.js";
export { exportHf } from "./hf.js";
export {
  hfModelConfig,
  preprocessorConfig,
  SIDE_FILES,
  tokenizerConfig,
  writeHfSideFiles,
} from "./hf-files.js";
export {
  exportImageEncoderOnnx,
  IMAGE_ENCODER_ONNX_FILES,
  imageEncoderOnnxFiles,
} from "./image-encoder.js";
export {
  DTYPE_SUFFIX,
  exportOnnx,
  ONNX_FILES,
  type OnnxExportOptions,
  onnxFiles,
} from "./onnx.js";

export { exportOpenClip, OPEN_CLIP_FILES, openClipConfig } from "./openclip.js";

export const EXPORT_FORMATS = ["onnx", "hf", "open_clip"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: string;
  out: string;
  /** A tokenizer file or folder, for model folders that have none (e.g. OpenCLIP's). */
  tokenizer?: string;
  /** Weight precision of the ONNX files (default fp32); q8 and fp16 take transformers.js's file names. */
  dtype?: string;
}

/** Open `modelDir`, write the export into `opts.out`; returns the files written (relative to it). */
export function exportModel(modelDir: string, opts: ExportOptions): string[] {
  if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format))
    throw new OptionError(`{format}: expected ${EXPORT_FORMATS.join(", ")}, got '${opts.format}'`);
  if (resolve(opts.out) === resolve(modelDir))
    throw new OptionError(`{out} '${opts.out}' is the model folder itself; choose another folder`);
  const dtype = (opts.dtype ?? "fp32") as WeightFormat;
  if (!WEIGHT_FORMATS.includes(dtype))
    throw new UserError(`--dtype: expected ${WEIGHT_FORMATS.join(", ")}, got '${opts.dtype}'`);
  if (dtype !== "fp32" && opts.format !== "onnx")
    throw new UserError(
      `--dtype ${dtype} applies to --format onnx only (${opts.format} folders hold float32 safetensors)`,
    );
  const loaded = loadModel(modelDir, { tokenizer: opts.tokenizer });
  if (!isLoadedClip(loaded)) {
    if (opts.format !== "onnx")
      throw new UserError(
        `${modelDir} is an image-only encoder (${loaded.config.method ?? "no text tower"}); Hugging Face and OpenCLIP have no class for it, so it exports as onnx only`,
      );
    return exportImageEncoderOnnx(loaded, opts.out, { dtype });
  }
  if (opts.format === "onnx") return exportOnnx(loaded, opts.out, { dtype });
  return opts.format === "hf" ? exportHf(loaded, opts.out) : exportOpenClip(loaded, opts.out);
}
