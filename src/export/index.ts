/** Exporting a CLIP model Juxta opens (a run, a Hugging Face or an OpenCLIP folder) for other runtimes. */
import { resolve } from "node:path";
import { loadClipModel } from "../pretrained/open.js";
import { UserError } from "../util/errors.js";
import { exportHf } from "./hf.js";
import { checkQuantize, exportOnnx } from "./onnx.js";
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
  checkQuantize,
  exportOnnx,
  ONNX_FILES,
  type OnnxExportOptions,
  QUANTIZE_UNAVAILABLE,
} from "./onnx.js";

export { exportOpenClip, OPEN_CLIP_FILES, openClipConfig } from "./openclip.js";

export const EXPORT_FORMATS = ["onnx", "hf", "open_clip"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: string;
  out: string;
  /** A tokenizer file or folder, for model folders that have none (e.g. OpenCLIP's). */
  tokenizer?: string;
  quantize?: string;
}

/** Open `modelDir`, write the export into `opts.out`; returns the files written (relative to it). */
export function exportModel(modelDir: string, opts: ExportOptions): string[] {
  if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format))
    throw new UserError(`--format: expected ${EXPORT_FORMATS.join(", ")}, got '${opts.format}'`);
  if (resolve(opts.out) === resolve(modelDir))
    throw new UserError(`--out '${opts.out}' is the model folder itself; choose another folder`);
  if (opts.quantize !== undefined && opts.format !== "onnx")
    throw new UserError("--quantize applies to --format onnx only");
  checkQuantize(opts.quantize);
  const loaded = loadClipModel(modelDir, { tokenizer: opts.tokenizer });
  if (opts.format === "onnx") return exportOnnx(loaded, opts.out, { quantize: opts.quantize });
  return opts.format === "hf" ? exportHf(loaded, opts.out) : exportOpenClip(loaded, opts.out);
}
