/**
 * Hugging Face `CLIPModel` folders (`config.json` with model_type "clip", `model.safetensors`): the config
 * mapped to Juxta's ClipConfig and every tensor renamed to Juxta's (OpenCLIP) names — q/k/v projections packed
 * into `in_proj_*`, the two projections transposed — and back again for export.
 */
import type {
  SafetensorsDtype,
  SafetensorsHeader,
  SafetensorsInput,
  SafetensorsTensor,
} from "../io/safetensors.js";
import type { ClipConfig } from "../models/clip.js";
import { checkClipConfig, LIMITS } from "../models/config-check.js";
import type { VisionConfig } from "../models/vit.js";
import type { Activation } from "../nn/index.js";
import { UserError } from "../util/errors.js";

type Json = Record<string, unknown>;

/** Hugging Face's hidden_act names → Juxta's activations. */
export const ACTIVATIONS: Record<string, Activation> = {
  quick_gelu: "quick_gelu",
  gelu: "gelu",
  gelu_new: "gelu_tanh",
  gelu_pytorch_tanh: "gelu_tanh",
  relu: "relu",
};

export function hfToConfig(json: Json, source: string): ClipConfig {
  const text = (json.text_config ?? {}) as Json;
  const vision = (json.vision_config ?? {}) as Json;
  const num = (obj: Json, key: string, fallback: number, where: string): number => {
    const v = obj[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new UserError(`${source}: field '${where}${key}' must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const act = (obj: Json, where: string): Activation => {
    const name = String(obj.hidden_act ?? "quick_gelu");
    const a = ACTIVATIONS[name];
    if (!a)
      throw new UserError(
        `${source}: field '${where}hidden_act' is '${name}'; Juxta supports ${Object.keys(ACTIVATIONS).join(", ")}`,
      );
    return a;
  };
  // The MLP's width is given, not its ratio: check it as given (checkClipConfig sees the ratio).
  const mlp = (obj: Json, fallback: number, where: string): number => {
    const v = num(obj, "intermediate_size", fallback, where);
    if (!Number.isInteger(v) || v < 1 || v > LIMITS.mlpWidth)
      throw new UserError(
        `${source}: field '${where}intermediate_size' is ${v}; expected a whole number from 1 to ${LIMITS.mlpWidth}`,
      );
    return v;
  };
  const vWidth = num(vision, "hidden_size", 768, "vision_config.");
  const tWidth = num(text, "hidden_size", 512, "text_config.");
  const cfg: ClipConfig = {
    embedDim: num(json, "projection_dim", 512, ""),
    vision: {
      type: "vit",
      imageSize: num(vision, "image_size", 224, "vision_config."),
      patchSize: num(vision, "patch_size", 32, "vision_config."),
      width: vWidth,
      layers: num(vision, "num_hidden_layers", 12, "vision_config."),
      heads: num(vision, "num_attention_heads", 12, "vision_config."),
      mlpRatio: mlp(vision, 3072, "vision_config.") / vWidth,
      act: act(vision, "vision_config."),
      lnEps: num(vision, "layer_norm_eps", 1e-5, "vision_config."),
    },
    text: {
      vocabSize: num(text, "vocab_size", 49408, "text_config."),
      contextLength: num(text, "max_position_embeddings", 77, "text_config."),
      width: tWidth,
      layers: num(text, "num_hidden_layers", 12, "text_config."),
      heads: num(text, "num_attention_heads", 8, "text_config."),
      mlpRatio: mlp(text, 2048, "text_config.") / tWidth,
      act: act(text, "text_config."),
      lnEps: num(text, "layer_norm_eps", 1e-5, "text_config."),
    },
    initLogitScale: num(json, "logit_scale_init_value", Math.log(1 / 0.07), ""),
  };
  checkClipConfig(cfg, source, hfField);
  return cfg;
}

const HF_TOWER_KEYS: Record<string, string> = {
  imageSize: "image_size",
  patchSize: "patch_size",
  width: "hidden_size",
  layers: "num_hidden_layers",
  heads: "num_attention_heads",
  mlpRatio: "intermediate_size",
  act: "hidden_act",
  lnEps: "layer_norm_eps",
  vocabSize: "vocab_size",
  contextLength: "max_position_embeddings",
};

/** A ClipConfig field's name in a Hugging Face config.json. */
function hfField(path: string): string {
  const [tower, key] = path.split(".") as [string, string | undefined];
  if (key === undefined)
    return (
      ({ embedDim: "projection_dim", initLogitScale: "logit_scale_init_value" } as Record<string, string>)[
        tower
      ] ?? tower
    );
  return `${tower === "vision" ? "vision_config" : "text_config"}.${HF_TOWER_KEYS[key] ?? key}`;
}

/** Token ids a Hugging Face config names; by default CLIP's layout (specials are the last two ids). */
export interface HfTokenIds {
  bos: number;
  eos: number;
  pad: number;
}

/** Hugging Face's CLIPModel has a ViT image tower only (the ONNX export also takes a ResNet: onnxConfigToHf). */
export function requireVit(cfg: ClipConfig): asserts cfg is ClipConfig & { vision: VisionConfig } {
  if (cfg.vision.type === "siglip")
    throw new UserError(
      "this model has SigLIP's towers; Juxta's Hugging Face and ONNX exports write the CLIPModel layout, which they do not fit",
    );
  if (cfg.vision.type !== "vit")
    throw new UserError(
      "this model's image tower is a ResNet; Hugging Face's CLIPModel only loads ViT towers (`export --format onnx` takes it: transformers.js runs the graph as it is)",
    );
}

const hfAct = (a: Activation) => (a === "gelu_tanh" ? "gelu_new" : a);

export function configToHf(cfg: ClipConfig, ids?: HfTokenIds): Json {
  requireVit(cfg);
  return clipConfigJson(cfg, vitVisionConfig(cfg.vision, cfg.embedDim), ids);
}

/**
 * The config.json of an ONNX export (transformers.js), which may hold a ResNet image tower: transformers.js
 * runs vision_model.onnx as it is and reads only the image size from vision_config, so a ResNet tower's
 * vision_config names the size, channels and projection, and keeps Juxta's description of the tower under
 * `juxta_image_tower` (Python's CLIPModel cannot build it; `export --format hf` stays ViT-only).
 */
export function onnxConfigToHf(cfg: ClipConfig, ids?: HfTokenIds): Json {
  const v = cfg.vision;
  if (v.type === "vit") return configToHf(cfg, ids);
  if (v.type !== "resnet") requireVit(cfg);
  const vision = {
    model_type: "clip_vision_model",
    image_size: v.imageSize,
    num_channels: 3,
    projection_dim: cfg.embedDim,
    juxta_image_tower: v,
  };
  return clipConfigJson(cfg, vision, ids);
}

function clipConfigJson(cfg: ClipConfig, vision: Json, ids?: HfTokenIds): Json {
  return {
    architectures: ["CLIPModel"],
    model_type: "clip",
    projection_dim: cfg.embedDim,
    logit_scale_init_value: cfg.initLogitScale ?? Math.log(1 / 0.07),
    text_config: {
      model_type: "clip_text_model",
      vocab_size: cfg.text.vocabSize,
      hidden_size: cfg.text.width,
      intermediate_size: Math.round(cfg.text.width * cfg.text.mlpRatio),
      num_hidden_layers: cfg.text.layers,
      num_attention_heads: cfg.text.heads,
      max_position_embeddings: cfg.text.contextLength,
      hidden_act: hfAct(cfg.text.act),
      layer_norm_eps: cfg.text.lnEps,
      projection_dim: cfg.embedDim,
      bos_token_id: ids?.bos ?? cfg.text.vocabSize - 2,
      eos_token_id: ids?.eos ?? cfg.text.vocabSize - 1,
      pad_token_id: ids?.pad ?? 0,
    },
    vision_config: vision,
  };
}

function vitVisionConfig(v: VisionConfig, embedDim: number): Json {
  return {
    model_type: "clip_vision_model",
    hidden_size: v.width,
    intermediate_size: Math.round(v.width * v.mlpRatio),
    num_hidden_layers: v.layers,
    num_attention_heads: v.heads,
    image_size: v.imageSize,
    patch_size: v.patchSize,
    num_channels: 3,
    hidden_act: hfAct(v.act),
    layer_norm_eps: v.lnEps,
    projection_dim: embedDim,
  };
}

/** Per-layer renames inside an encoder layer (HF → OpenCLIP), q/k/v handled separately. */
const LAYER_RENAMES: [string, string][] = [
  ["self_attn.out_proj.", "attn.out_proj."],
  ["layer_norm1.", "ln_1."],
  ["layer_norm2.", "ln_2."],
  ["mlp.fc1.", "mlp.c_fc."],
  ["mlp.fc2.", "mlp.c_proj."],
];

const TOWERS = [
  { hf: "vision_model", ours: "visual" },
  { hf: "text_model", ours: "text" },
] as const;

const FIXED_RENAMES: Record<string, string> = {
  "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
  "vision_model.embeddings.class_embedding": "visual.class_embedding",
  "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
  "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight",
  "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias",
  "vision_model.post_layernorm.weight": "visual.ln_post.weight",
  "vision_model.post_layernorm.bias": "visual.ln_post.bias",
  "text_model.embeddings.token_embedding.weight": "text.token_embedding.weight",
  "text_model.embeddings.position_embedding.weight": "text.positional_embedding",
  "text_model.final_layer_norm.weight": "text.ln_final.weight",
  "text_model.final_layer_norm.bias": "text.ln_final.bias",
  logit_scale: "logit_scale",
};

/** Buffers HF stores that carry no weights. */
const IGNORED = /\.position_ids$/;

function transpose(t: SafetensorsTensor, name: string, source: string): SafetensorsTensor {
  if (t.shape.length !== 2)
    throw new UserError(`${source}: tensor '${name}' should be 2-D, has shape [${t.shape}]`);
  const [r, c] = t.shape as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j] as number;
  return { dtype: "F32", stored: t.stored, shape: [c, r], data: out };
}

export function concatRows(parts: SafetensorsTensor[]): SafetensorsTensor {
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const out = new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p.data as Float32Array, at);
    at += p.data.length;
  }
  const [rows, ...rest] = parts[0]!.shape;
  return {
    dtype: "F32",
    stored: parts[0]!.stored,
    shape: [(rows as number) * parts.length, ...rest],
    data: out,
  };
}

/**
 * A Hugging Face encoder's layers (`{hf}.encoder.layers.N.*`, as CLIP and SigLIP name them) into `out` under
 * Juxta's `{ours}.transformer.resblocks.N.*`, q/k/v packed by `concat`; `take` reads (and marks) a tensor
 * (or a header entry).
 */
export function renameEncoderLayers<T>(
  tensors: ReadonlyMap<string, T>,
  hf: string,
  ours: string,
  take: (name: string) => T,
  concat: (parts: T[], name: string) => T,
  out: Map<string, T>,
): void {
  for (let layer = 0; ; layer++) {
    const from = `${hf}.encoder.layers.${layer}.`;
    if (![...tensors.keys()].some((k) => k.startsWith(from))) break;
    const to = `${ours}.transformer.resblocks.${layer}.`;
    for (const kind of ["weight", "bias"] as const) {
      const qkv = (["q", "k", "v"] as const).map((p) => take(`${from}self_attn.${p}_proj.${kind}`));
      out.set(`${to}attn.in_proj_${kind}`, concat(qkv, `${from}self_attn.q_proj.${kind}`));
    }
    for (const [a, b] of LAYER_RENAMES)
      for (const kind of ["weight", "bias"]) out.set(`${to}${b}${kind}`, take(`${from}${a}${kind}`));
  }
}

/** How the HF → Juxta renaming reshapes what it moves: whole tensors, or header entries (shapes only). */
interface RenameOps<T> {
  transpose(t: T, name: string): T;
  concatRows(parts: T[], name: string): T;
}

/** HF tensors (or header entries) → Juxta names. Unknown tensors are a UserError naming them. */
function renameHf<T>(tensors: ReadonlyMap<string, T>, source: string, ops: RenameOps<T>): Map<string, T> {
  const out = new Map<string, T>();
  const used = new Set<string>();
  const take = (name: string): T => {
    const t = tensors.get(name);
    if (!t) throw new UserError(`${source}: tensor '${name}' is missing`);
    used.add(name);
    return t;
  };
  for (const [hf, ours] of Object.entries(FIXED_RENAMES)) if (tensors.has(hf)) out.set(ours, take(hf));
  if (tensors.has("visual_projection.weight"))
    out.set("visual.proj", ops.transpose(take("visual_projection.weight"), "visual_projection.weight"));
  if (tensors.has("text_projection.weight"))
    out.set("text.text_projection", ops.transpose(take("text_projection.weight"), "text_projection.weight"));
  for (const { hf, ours } of TOWERS) renameEncoderLayers(tensors, hf, ours, take, ops.concatRows, out);
  const unknown = [...tensors.keys()].filter((k) => !used.has(k) && !IGNORED.test(k));
  if (unknown.length > 0)
    throw new UserError(
      `${source}: tensors Juxta's CLIP does not have: ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", …" : ""}`,
    );
  return out;
}

/** HF tensors → Juxta names (q/k/v packed, projections transposed). */
export function hfToJuxta(
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  source: string,
): Map<string, SafetensorsTensor> {
  return renameHf(tensors, source, {
    transpose: (t, name) => transpose(t, name, source),
    concatRows: (parts) => concatRows(parts),
  });
}

/** An HF weights file's header → the shapes `hfToJuxta` would give its tensors, under Juxta's names. */
export function hfHeaderToJuxta(header: SafetensorsHeader, source: string): SafetensorsHeader {
  type E = { dtype: SafetensorsDtype; shape: number[] };
  return renameHf<E>(header, source, {
    transpose: (t, name) => {
      if (t.shape.length !== 2)
        throw new UserError(`${source}: tensor '${name}' should be 2-D, has shape [${t.shape}]`);
      return { dtype: t.dtype, shape: [t.shape[1] as number, t.shape[0] as number] };
    },
    concatRows: (parts, name) => {
      const [first, ...others] = parts as [E, ...E[]];
      const rest = first.shape.slice(1).join(",");
      if (others.some((p) => p.shape.slice(1).join(",") !== rest || p.shape.length !== first.shape.length))
        throw new UserError(
          `${source}: tensors q_proj, k_proj and v_proj beside '${name}' have different shapes (${parts.map((p) => `[${p.shape}]`).join(", ")})`,
        );
      return {
        dtype: first.dtype,
        shape: [parts.reduce((n, p) => n + (p.shape[0] ?? 1), 0), ...first.shape.slice(1)],
      };
    },
  });
}

/** Juxta tensors (name → F32 data with shape) → HF names, for `export --format hf`. */
export function juxtaToHf(
  weights: Record<string, SafetensorsInput>,
  cfg: ClipConfig,
): Record<string, SafetensorsInput> {
  requireVit(cfg);
  const out: Record<string, SafetensorsInput> = {};
  const get = (name: string) => {
    const w = weights[name];
    if (!w) throw new Error(`internal: weight '${name}' is missing`);
    return w as { dtype: "F32"; shape: readonly number[]; data: Float32Array };
  };
  const asTensor = (w: { shape: readonly number[]; data: Float32Array }): SafetensorsTensor => ({
    dtype: "F32",
    stored: "F32",
    shape: [...w.shape],
    data: w.data,
  });
  for (const [hf, ours] of Object.entries(FIXED_RENAMES)) out[hf] = get(ours);
  const tp = (name: string, hf: string) => {
    const t = transpose(asTensor(get(name)), name, "export");
    out[hf] = { dtype: "F32", shape: t.shape, data: t.data as Float32Array };
  };
  tp("visual.proj", "visual_projection.weight");
  tp("text.text_projection", "text_projection.weight");
  for (const { hf, ours } of TOWERS) {
    const tower = ours === "visual" ? cfg.vision : cfg.text;
    const d = tower.width;
    for (let layer = 0; layer < tower.layers; layer++) {
      const from = `${ours}.transformer.resblocks.${layer}.`;
      const to = `${hf}.encoder.layers.${layer}.`;
      for (const kind of ["weight", "bias"] as const) {
        const packed = get(`${from}attn.in_proj_${kind}`);
        const rowSize = kind === "weight" ? d : 1;
        (["q", "k", "v"] as const).forEach((p, i) => {
          const data = packed.data.slice(i * d * rowSize, (i + 1) * d * rowSize);
          out[`${to}self_attn.${p}_proj.${kind}`] = {
            dtype: "F32",
            shape: kind === "weight" ? [d, d] : [d],
            data,
          };
        });
      }
      for (const [a, b] of LAYER_RENAMES)
        for (const kind of ["weight", "bias"]) out[`${to}${a}${kind}`] = get(`${from}${b}${kind}`);
    }
  }
  return out;
}
