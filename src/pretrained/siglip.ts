/**
 * Hugging Face `SiglipModel` folders (`config.json` with model_type "siglip", `model.safetensors`, a
 * tokenizer, `preprocessor_config.json`): the config mapped to a ClipConfig with SigLIP's towers
 * (models/siglip.ts), every tensor renamed to Juxta's names, and SiglipImageProcessor's preprocessing
 * (resize straight to S × S, mean and std 0.5). Defaults are SiglipConfig's (google/siglip-base-patch16-224).
 */
import type { SafetensorsHeader, SafetensorsTensor } from "../io/safetensors.js";
import type { ClipConfig } from "../models/clip.js";
import type { Preprocess } from "../models/saved.js";
import type { Activation } from "../nn/index.js";
import { UserError } from "../util/errors.js";
import { ACTIVATIONS, concatRows, renameEncoderLayers } from "./hf.js";

type Json = Record<string, unknown>;

/** SiglipImageProcessor's defaults. */
const SIGLIP_MEAN = [0.5, 0.5, 0.5] as const;
const SIGLIP_STD = [0.5, 0.5, 0.5] as const;

/** config.json → ClipConfig; `source` names the file in errors. */
export function siglipToConfig(json: Json, source: string): ClipConfig {
  const part = (key: string): Json => {
    const v = json[key] ?? {};
    if (typeof v !== "object" || v === null || Array.isArray(v))
      throw new UserError(`${source}: field '${key}' must be an object, got ${JSON.stringify(v)}`);
    return v as Json;
  };
  const text = part("text_config");
  const vision = part("vision_config");
  const num = (obj: Json, key: string, fallback: number, where: string, positive = true): number => {
    const v = obj[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || (positive && !(v > 0)))
      throw new UserError(
        `${source}: field '${where}.${key}' must be a ${positive ? "positive " : ""}number, got ${JSON.stringify(v)}`,
      );
    return v;
  };
  const int = (obj: Json, key: string, fallback: number, where: string): number => {
    const v = num(obj, key, fallback, where);
    if (!Number.isInteger(v))
      throw new UserError(`${source}: field '${where}.${key}' must be a whole number, got ${v}`);
    return v;
  };
  const act = (obj: Json, where: string): Activation => {
    const name = String(obj.hidden_act ?? "gelu_pytorch_tanh");
    const a = ACTIVATIONS[name];
    if (!a)
      throw new UserError(
        `${source}: field '${where}.hidden_act' is '${name}'; Juxta supports ${Object.keys(ACTIVATIONS).join(", ")}`,
      );
    return a;
  };
  const tower = (obj: Json, where: string, heads: number) => {
    const width = int(obj, "hidden_size", 768, where);
    const h = int(obj, "num_attention_heads", heads, where);
    if (width % h !== 0)
      throw new UserError(
        `${source}: '${where}.hidden_size' ${width} is not divisible by num_attention_heads ${h}`,
      );
    return {
      type: "siglip" as const,
      width,
      layers: int(obj, "num_hidden_layers", 12, where),
      heads: h,
      mlpRatio: int(obj, "intermediate_size", 3072, where) / width,
      act: act(obj, where),
      lnEps: num(obj, "layer_norm_eps", 1e-6, where),
    };
  };
  if ((vision.num_channels ?? 3) !== 3)
    throw new UserError(
      `${source}: 'vision_config.num_channels' is ${vision.num_channels}; Juxta reads RGB (3)`,
    );
  if (vision.vision_use_head === false)
    throw new UserError(
      `${source}: 'vision_config.vision_use_head' is false (a SigLIP vision tower without its pooling head, as in PaliGemma); Juxta's SigLIP needs the head for image embeddings`,
    );
  const v = {
    ...tower(vision, "vision_config", 12),
    imageSize: int(vision, "image_size", 224, "vision_config"),
    patchSize: int(vision, "patch_size", 16, "vision_config"),
  };
  if (v.imageSize % v.patchSize !== 0)
    throw new UserError(
      `${source}: 'vision_config.image_size' ${v.imageSize} is not a multiple of patch_size ${v.patchSize}`,
    );
  const t = {
    ...tower(text, "text_config", 12),
    vocabSize: int(text, "vocab_size", 32000, "text_config"),
    contextLength: int(text, "max_position_embeddings", 64, "text_config"),
  };
  // The text head maps to projection_size (newer configs; the text width before): both towers must meet.
  const projection = int(text, "projection_size", t.width, "text_config");
  if (projection !== v.width)
    throw new UserError(
      `${source}: the text tower projects to ${projection} (text_config.projection_size) but the image embedding has ${v.width} (vision_config.hidden_size); they must match`,
    );
  return { embedDim: v.width, vision: v, text: t, initLogitScale: Math.log(10), initLogitBias: -10 };
}

/** preprocessor_config.json (SiglipImageProcessor) → Preprocess; absent fields take its defaults. */
export function siglipPreprocess(json: Json | undefined, cfg: ClipConfig, source: string): Preprocess {
  const p = json ?? {};
  const size = p.size as { height?: unknown; width?: unknown } | undefined;
  const s = cfg.vision.imageSize;
  if (size !== undefined && (size.height !== s || size.width !== s))
    throw new UserError(
      `${source}: field 'size' is ${JSON.stringify(size)}; the model's image tower takes ${s} × ${s} (vision_config.image_size)`,
    );
  if (p.do_resize === false || p.do_rescale === false || p.do_normalize === false)
    throw new UserError(
      `${source}: do_resize, do_rescale and do_normalize must not be false; Juxta's preprocessing always does all three`,
    );
  if (p.rescale_factor !== undefined && Math.abs((p.rescale_factor as number) - 1 / 255) > 1e-9)
    throw new UserError(
      `${source}: field 'rescale_factor' must be 1/255, got ${JSON.stringify(p.rescale_factor)}`,
    );
  if (p.resample !== undefined && p.resample !== 3)
    throw new UserError(
      `${source}: field 'resample' is ${JSON.stringify(p.resample)}; Juxta resizes with PIL's bicubic (3)`,
    );
  const triple = (key: string, fallback: readonly [number, number, number]): [number, number, number] => {
    const v = p[key] ?? fallback;
    const list = typeof v === "number" ? [v, v, v] : v;
    if (
      !Array.isArray(list) ||
      list.length !== 3 ||
      !list.every((x) => typeof x === "number" && Number.isFinite(x))
    )
      throw new UserError(`${source}: field '${key}' must be three numbers, got ${JSON.stringify(v)}`);
    return [list[0], list[1], list[2]];
  };
  const std = triple("image_std", SIGLIP_STD);
  if (std.some((x) => x <= 0))
    throw new UserError(`${source}: field 'image_std' must be positive, got ${JSON.stringify(std)}`);
  return { imageSize: s, mean: triple("image_mean", SIGLIP_MEAN), std, resize: "squash" };
}

/** Tensors by rename that need no reshaping (Hugging Face name → Juxta's). */
const FIXED: Record<string, string> = {
  "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
  "vision_model.embeddings.patch_embedding.bias": "visual.conv1.bias",
  "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
  "vision_model.post_layernorm.weight": "visual.ln_post.weight",
  "vision_model.post_layernorm.bias": "visual.ln_post.bias",
  "vision_model.head.probe": "visual.attn_pool.probe",
  "vision_model.head.attention.in_proj_weight": "visual.attn_pool.attn.in_proj_weight",
  "vision_model.head.attention.in_proj_bias": "visual.attn_pool.attn.in_proj_bias",
  "vision_model.head.attention.out_proj.weight": "visual.attn_pool.attn.out_proj.weight",
  "vision_model.head.attention.out_proj.bias": "visual.attn_pool.attn.out_proj.bias",
  "vision_model.head.layernorm.weight": "visual.attn_pool.ln.weight",
  "vision_model.head.layernorm.bias": "visual.attn_pool.ln.bias",
  "vision_model.head.mlp.fc1.weight": "visual.attn_pool.mlp.c_fc.weight",
  "vision_model.head.mlp.fc1.bias": "visual.attn_pool.mlp.c_fc.bias",
  "vision_model.head.mlp.fc2.weight": "visual.attn_pool.mlp.c_proj.weight",
  "vision_model.head.mlp.fc2.bias": "visual.attn_pool.mlp.c_proj.bias",
  "text_model.embeddings.token_embedding.weight": "text.token_embedding.weight",
  "text_model.embeddings.position_embedding.weight": "text.positional_embedding",
  "text_model.final_layer_norm.weight": "text.ln_final.weight",
  "text_model.final_layer_norm.bias": "text.ln_final.bias",
  "text_model.head.weight": "text.head.weight",
  "text_model.head.bias": "text.head.bias",
};

/** Buffers Hugging Face stores that carry no weights. */
const IGNORED = /\.position_ids$/;

/** How the renaming reshapes what it moves: whole tensors, or header entries (shapes only). */
interface RenameOps<T> {
  concatRows(parts: T[], name: string): T;
  /** A one-element vector as a scalar. */
  scalar(t: T): T;
}

/** SiglipModel tensors (or header entries) → Juxta names; a missing or unknown one is a UserError naming it. */
function renameSiglip<T extends { shape: number[] }>(
  tensors: ReadonlyMap<string, T>,
  source: string,
  ops: RenameOps<T>,
): Map<string, T> {
  const out = new Map<string, T>();
  const used = new Set<string>();
  const take = (name: string): T => {
    const t = tensors.get(name);
    if (!t) throw new UserError(`${source}: tensor '${name}' is missing (a Hugging Face SiglipModel has it)`);
    used.add(name);
    return t;
  };
  for (const [hf, ours] of Object.entries(FIXED)) out.set(ours, take(hf));
  renameEncoderLayers(tensors, "vision_model", "visual", take, ops.concatRows, out);
  renameEncoderLayers(tensors, "text_model", "text", take, ops.concatRows, out);
  // SiglipModel stores its temperature and bias as one-element vectors; Juxta's are scalars.
  for (const name of ["logit_scale", "logit_bias"]) {
    const t = take(name);
    if (t.shape.reduce((a, b) => a * b, 1) !== 1)
      throw new UserError(`${source}: tensor '${name}' should hold one value, has shape [${t.shape}]`);
    out.set(name, ops.scalar(t));
  }
  const unknown = [...tensors.keys()].filter((k) => !used.has(k) && !IGNORED.test(k));
  if (unknown.length > 0)
    throw new UserError(
      `${source}: tensors Juxta's SigLIP does not have: ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", …" : ""}`,
    );
  return out;
}

/** SiglipModel tensors → Juxta names (q/k/v packed, logit scale and bias as scalars). */
export function siglipToJuxta(
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  source: string,
): Map<string, SafetensorsTensor> {
  return renameSiglip(tensors, source, {
    concatRows: (parts) => concatRows(parts),
    scalar: (t) => ({ ...t, shape: [] }) as SafetensorsTensor,
  });
}

/** A SiglipModel weights file's header → the shapes `siglipToJuxta` would give, under Juxta's names. */
export function siglipHeaderToJuxta(header: SafetensorsHeader, source: string): SafetensorsHeader {
  return renameSiglip(header, source, {
    concatRows: (parts) => ({
      dtype: parts[0]!.dtype,
      shape: [parts.reduce((n, p) => n + (p.shape[0] ?? 1), 0), ...parts[0]!.shape.slice(1)],
    }),
    scalar: (t) => ({ dtype: t.dtype, shape: [] }),
  });
}
