/**
 * OpenCLIP folders (`open_clip_config.json`, `open_clip_model.safetensors`): the config mapped to Juxta's
 * ClipConfig (only the plain CLIP architecture: a ViT image tower and the causal text Transformer) and the
 * text tower's top-level names (`transformer.*`, `token_embedding`, …) moved under Juxta's `text.`.
 */
import type { SafetensorsTensor } from "../io/safetensors.js";
import type { ClipConfig } from "../models/clip.js";
import { checkClipConfig } from "../models/config-check.js";
import { UserError } from "../util/errors.js";

type Json = Record<string, unknown>;

/** Config keys that select an architecture Juxta does not implement. */
const UNSUPPORTED_VISION = [
  "timm_model_name",
  "attentional_pool",
  "no_ln_pre",
  "final_ln_after_pool",
  "pool_type",
];
const UNSUPPORTED_TEXT = ["hf_model_name", "pool_type", "no_causal_mask", "final_ln_after_pool", "embed_cls"];

export function openClipToConfig(
  json: Json,
  source: string,
): { config: ClipConfig; mean?: number[]; std?: number[] } {
  const model = json.model_cfg as Json | undefined;
  if (!model || typeof model !== "object") throw new UserError(`${source}: field 'model_cfg' is missing`);
  const vision = (model.vision_cfg ?? {}) as Json;
  const text = (model.text_cfg ?? {}) as Json;
  const refuse = (cfg: Json, keys: string[], where: string) => {
    for (const k of keys)
      if (
        cfg[k] !== undefined &&
        cfg[k] !== null &&
        cfg[k] !== false &&
        !(k === "pool_type" && cfg[k] === (where === "vision_cfg" ? "tok" : "argmax"))
      )
        throw new UserError(
          `${source}: '${where}.${k}' = ${JSON.stringify(cfg[k])} selects an architecture Juxta does not implement`,
        );
  };
  refuse(vision, UNSUPPORTED_VISION, "vision_cfg");
  refuse(text, UNSUPPORTED_TEXT, "text_cfg");
  if (Array.isArray(vision.layers))
    throw new UserError(`${source}: 'vision_cfg.layers' is a list (a ResNet tower); Juxta loads ViT towers`);
  const num = (obj: Json, key: string, fallback: number, where: string): number => {
    const v = obj[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new UserError(`${source}: field '${where}.${key}' must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const act = model.quick_gelu === true ? "quick_gelu" : "gelu";
  const vWidth = num(vision, "width", 768, "vision_cfg");
  const tWidth = num(text, "width", 512, "text_cfg");
  const preprocess = (json.preprocess_cfg ?? {}) as Json;
  // A SigLIP model (init_logit_bias set) has the learned bias `logit_bias` among its weights.
  const bias = model.init_logit_bias;
  if (bias !== undefined && bias !== null && (typeof bias !== "number" || !Number.isFinite(bias)))
    throw new UserError(
      `${source}: field 'model_cfg.init_logit_bias' must be a number, got ${JSON.stringify(bias)}`,
    );
  // Heads are given as a head width: it must divide the width (checkClipConfig sees the head count).
  const headWidth = num(vision, "head_width", 64, "vision_cfg");
  if (!(Number.isInteger(headWidth) && headWidth >= 1 && Number.isInteger(vWidth / headWidth)))
    throw new UserError(
      `${source}: field 'model_cfg.vision_cfg.head_width' is ${headWidth}; expected a whole number dividing the width ${vWidth}`,
    );
  const parsed: { config: ClipConfig; mean?: number[]; std?: number[] } = {
    config: {
      embedDim: num(model, "embed_dim", 512, "model_cfg"),
      vision: {
        type: "vit",
        imageSize: num(vision, "image_size", 224, "vision_cfg"),
        patchSize: num(vision, "patch_size", 16, "vision_cfg"),
        width: vWidth,
        layers: num(vision, "layers", 12, "vision_cfg"),
        heads: vWidth / headWidth,
        mlpRatio: num(vision, "mlp_ratio", 4, "vision_cfg"),
        act,
        lnEps: 1e-5,
      },
      text: {
        vocabSize: num(text, "vocab_size", 49408, "text_cfg"),
        contextLength: num(text, "context_length", 77, "text_cfg"),
        width: tWidth,
        layers: num(text, "layers", 12, "text_cfg"),
        heads: num(text, "heads", 8, "text_cfg"),
        mlpRatio: num(text, "mlp_ratio", 4, "text_cfg"),
        act,
        lnEps: 1e-5,
      },
      ...(typeof bias === "number" ? { initLogitBias: bias } : {}),
    },
    mean: preprocess.mean as number[] | undefined,
    std: preprocess.std as number[] | undefined,
  };
  checkClipConfig(parsed.config, source, openClipField);
  return parsed;
}

const OPENCLIP_TOWER_KEYS: Record<string, string> = {
  imageSize: "image_size",
  patchSize: "patch_size",
  heads: "heads",
  mlpRatio: "mlp_ratio",
  vocabSize: "vocab_size",
  contextLength: "context_length",
};

/** A ClipConfig field's name in an open_clip_config.json. */
function openClipField(path: string): string {
  const [tower, key] = path.split(".") as [string, string | undefined];
  if (key === undefined)
    return `model_cfg.${({ embedDim: "embed_dim", initLogitBias: "init_logit_bias" } as Record<string, string>)[tower] ?? tower}`;
  if (key === "act") return "model_cfg.quick_gelu";
  const where = tower === "vision" ? "vision_cfg" : "text_cfg";
  return `model_cfg.${where}.${key === "heads" && tower === "vision" ? "head_width" : (OPENCLIP_TOWER_KEYS[key] ?? key)}`;
}

const TEXT_TOP_LEVEL = [
  "transformer.",
  "token_embedding.",
  "positional_embedding",
  "ln_final.",
  "text_projection",
];

/** OpenCLIP tensors (or header entries) → Juxta names. */
export function openClipToJuxta<T = SafetensorsTensor>(tensors: ReadonlyMap<string, T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [name, t] of tensors) {
    if (name === "attn_mask") continue; // a constant OpenCLIP stores; Juxta builds the causal mask itself
    out.set(TEXT_TOP_LEVEL.some((p) => name.startsWith(p)) ? `text.${name}` : name, t);
  }
  return out;
}

export function juxtaToOpenClipName(name: string): string {
  return name.startsWith("text.") ? name.slice("text.".length) : name;
}
