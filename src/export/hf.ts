/**
 * `export --format hf`: a Hugging Face CLIPModel folder (`config.json`, `model.safetensors` under
 * Hugging Face's names, tokenizer and preprocessor files) from any CLIP model Juxta opens.
 */
import { join } from "node:path";
import { writeSafetensors } from "../io/safetensors.js";
import type { LoadedClip } from "../models/saved.js";
import { weightsOf } from "../models/weights.js";
import { juxtaToHf, requireVit } from "../pretrained/hf.js";
import { ensureDir } from "../util/fs.js";
import { SIDE_FILES, writeHfSideFiles } from "./hf-files.js";

export function exportHf(loaded: LoadedClip, out: string): string[] {
  requireVit(loaded.model.cfg);
  ensureDir(out);
  const tensors = juxtaToHf(weightsOf(loaded.model), loaded.model.cfg);
  writeSafetensors(join(out, "model.safetensors"), tensors, { format: "pt" });
  writeHfSideFiles(loaded, out);
  return ["model.safetensors", ...SIDE_FILES];
}
