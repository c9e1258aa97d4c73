/**
 * `export --format open_clip`: an OpenCLIP folder (`open_clip_config.json` + `open_clip_model.safetensors`,
 * the layout open_clip's hub loader reads) so a run can move to open_clip's own training (torchrun, many
 * GPUs) and come back through Juxta's OpenCLIP reader. The names are OpenCLIP's state_dict keys: Juxta's
 * `text.` prefix dropped (pretrained/openclip.ts maps them back). The tokenizer goes beside as
 * tokenizer.json; open_clip tokenizes with its own CLIP BPE unless given this one.
 */
import { join } from "node:path";
import { type SafetensorsInput, writeSafetensors } from "../io/safetensors.js";
import type { LoadedClip } from "../models/saved.js";
import { weightsOf } from "../models/weights.js";
import { juxtaToOpenClipName } from "../pretrained/openclip.js";
import { saveTokenizerJson } from "../text/index.js";
import { UserError } from "../util/errors.js";
import { ensureDir, writeJsonAtomic } from "../util/fs.js";

export const OPEN_CLIP_FILES = ["open_clip_config.json", "open_clip_model.safetensors", "tokenizer.json"];

/** open_clip_config.json for a ViT CLIP: the model_cfg open_clip's CLIP class is built from. */
export function openClipConfig(loaded: LoadedClip, logitBias?: number): Record<string, unknown> {
  const { vision, text, embedDim } = loaded.model.cfg;
  if (vision.type !== "vit")
    throw new UserError(
      "this model's image tower is Juxta's small ResNet, which OpenCLIP does not have; export a ViT model (presets tiny, small, b32)",
    );
  if (vision.act !== text.act || (vision.act !== "gelu" && vision.act !== "quick_gelu"))
    throw new UserError(
      `OpenCLIP uses one activation, gelu or quick_gelu, for both towers; this model has ${vision.act} and ${text.act}`,
    );
  if (vision.lnEps !== 1e-5 || text.lnEps !== 1e-5)
    throw new UserError("OpenCLIP's LayerNorm epsilon is 1e-5; this model uses another");
  return {
    model_cfg: {
      embed_dim: embedDim,
      quick_gelu: vision.act === "quick_gelu",
      ...(logitBias !== undefined ? { init_logit_bias: logitBias } : {}),
      vision_cfg: {
        image_size: vision.imageSize,
        patch_size: vision.patchSize,
        width: vision.width,
        layers: vision.layers,
        head_width: vision.width / vision.heads,
        mlp_ratio: vision.mlpRatio,
      },
      text_cfg: {
        context_length: text.contextLength,
        vocab_size: text.vocabSize,
        width: text.width,
        heads: text.heads,
        layers: text.layers,
        mlp_ratio: text.mlpRatio,
      },
    },
    preprocess_cfg: {
      mean: [...loaded.preprocess.mean],
      std: [...loaded.preprocess.std],
      interpolation: "bicubic",
      resize_mode: "shortest",
    },
  };
}

export function exportOpenClip(loaded: LoadedClip, out: string): string[] {
  const weights = weightsOf(loaded.model);
  const bias = weights.logit_bias ? Number(weights.logit_bias.data[0]) : undefined;
  const config = openClipConfig(loaded, bias);
  ensureDir(out);
  const tensors: Record<string, SafetensorsInput> = {};
  for (const [name, t] of Object.entries(weights)) tensors[juxtaToOpenClipName(name)] = t;
  writeSafetensors(join(out, "open_clip_model.safetensors"), tensors, { format: "pt" });
  writeJsonAtomic(join(out, "open_clip_config.json"), config);
  saveTokenizerJson(loaded.tokenizer, join(out, "tokenizer.json"));
  return OPEN_CLIP_FILES;
}
