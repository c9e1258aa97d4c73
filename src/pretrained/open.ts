/**
 * Load any model folder Juxta understands into memory (weights, tokenizer, preprocessing; nothing compiled),
 * detected by the files in it:
 *   juxta.json                                  a Juxta run of any family (juxta train)
 *   config.json with "model_type": "clip"       a Hugging Face CLIPModel folder
 *   config.json with "model_type": "siglip"     a Hugging Face SiglipModel folder (siglip.ts)
 *   open_clip_config.json                       an OpenCLIP folder
 * `openModel` (src/handle) opens a model for use through here, so pretrained checkpoints work wherever a
 * run does; training from a checkpoint (`--init`) and export read the loaded weights directly.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CLIP_MEAN, CLIP_STD, type Triple } from "../image/augment.js";
import { readSafetensors, type SafetensorsHeader } from "../io/safetensors.js";
import { CLIP, type ClipConfig } from "../models/clip.js";
import { buildForWeights } from "../models/config-check.js";
import {
  CONFIG_FILE,
  checkTokenizer,
  isLoadedClip,
  type LoadedClip,
  type LoadedRun,
  loadRun,
  type Preprocess,
} from "../models/saved.js";
import { loadWeights } from "../models/weights.js";
import type { TextTokenizer } from "../text/formats.js";
import { loadTokenizer } from "../text/index.js";
import { jsonErrorMessage, UserError } from "../util/errors.js";
import { hfHeaderToJuxta, hfToConfig, hfToJuxta } from "./hf.js";
import { openClipToConfig, openClipToJuxta } from "./openclip.js";
import { siglipHeaderToJuxta, siglipPreprocess, siglipToConfig, siglipToJuxta } from "./siglip.js";

export type ModelFormat = "juxta" | "hf" | "hf-siglip" | "openclip";

export interface OpenOptions {
  /** A tokenizer file or folder to use instead of the one in the model folder. */
  tokenizer?: string;
}

export function detectFormat(dir: string): ModelFormat {
  if (!existsSync(dir)) throw new UserError(`model folder '${dir}' does not exist`);
  if (!statSync(dir).isDirectory()) throw new UserError(`'${dir}' is a file; expected a model folder`);
  if (existsSync(join(dir, CONFIG_FILE))) return "juxta";
  if (existsSync(join(dir, "open_clip_config.json"))) return "openclip";
  // juxta export --format onnx writes a Hugging Face config.json beside onnx/, but no weights to train on.
  if (existsSync(join(dir, "onnx", "model.onnx")) && !existsSync(join(dir, "model.safetensors")))
    throw new UserError(
      `${dir}: an ONNX export (onnx/model.onnx, for transformers.js or ONNX Runtime), which Juxta does not read back; give the run it was exported from, a Hugging Face CLIPModel folder (config.json, model.safetensors) or an OpenCLIP folder`,
    );
  const hf = join(dir, "config.json");
  const modelType = existsSync(hf) ? (readJson(hf) as { model_type?: unknown }).model_type : undefined;
  if (modelType === "clip") return "hf";
  if (modelType === "siglip") return "hf-siglip";
  throw new UserError(
    `${dir}: not a model folder Juxta knows; expected ${CONFIG_FILE} (a Juxta run), config.json with model_type "clip" or "siglip" (Hugging Face) or open_clip_config.json (OpenCLIP)`,
  );
}

/** Load a model folder of any family and format. */
export function loadModel(dir: string, opts: OpenOptions = {}): LoadedRun {
  const format = detectFormat(dir);
  if (format === "juxta") {
    const loaded = loadRun(dir);
    if (opts.tokenizer === undefined) return loaded;
    if (!isLoadedClip(loaded))
      throw new UserError(
        `the tokenizer option does not apply to ${dir}: an image-only encoder has no text tower`,
      );
    loaded.tokenizer = checked(loadTokenizer(opts.tokenizer), loaded.model.cfg, opts.tokenizer);
    return loaded;
  }
  return loadPretrained(dir, format, opts);
}

/** Load a model folder that has a text tower (CLIP or SigLIP, any format); an image-only encoder is refused. */
export function loadClipModel(dir: string, opts: OpenOptions = {}): LoadedClip {
  const loaded = loadModel(dir, opts);
  if (!isLoadedClip(loaded))
    throw new UserError(
      `${dir} is an image-only encoder (${loaded.config.method ?? "no text tower"}); this needs a model with a text tower (CLIP or SigLIP)`,
    );
  return loaded;
}

/** A Hugging Face or OpenCLIP folder, its weights renamed to Juxta's. */
function loadPretrained(dir: string, format: "hf" | "hf-siglip" | "openclip", opts: OpenOptions): LoadedClip {
  let cfg: ClipConfig;
  let weightsFile: string;
  let mean: readonly number[] | undefined;
  let std: readonly number[] | undefined;
  let rename: typeof hfToJuxta;
  let preprocess: Preprocess | undefined;
  if (format === "hf-siglip") {
    const configPath = join(dir, "config.json");
    cfg = siglipToConfig(readJson(configPath) as Record<string, unknown>, configPath);
    weightsFile = join(dir, "model.safetensors");
    rename = siglipToJuxta;
    const pre = join(dir, "preprocessor_config.json");
    const json = existsSync(pre) ? (readJson(pre) as Record<string, unknown>) : undefined;
    preprocess = siglipPreprocess(json, cfg, pre);
  } else if (format === "hf") {
    const configPath = join(dir, "config.json");
    cfg = hfToConfig(readJson(configPath) as Record<string, unknown>, configPath);
    weightsFile = join(dir, "model.safetensors");
    rename = hfToJuxta;
    const pre = join(dir, "preprocessor_config.json");
    if (existsSync(pre)) {
      const p = readJson(pre) as { image_mean?: number[]; image_std?: number[] };
      mean = p.image_mean;
      std = p.image_std;
    }
  } else {
    const configPath = join(dir, "open_clip_config.json");
    const parsed = openClipToConfig(readJson(configPath) as Record<string, unknown>, configPath);
    cfg = parsed.config;
    mean = parsed.mean;
    std = parsed.std;
    weightsFile = join(dir, "open_clip_model.safetensors");
    rename = (t) => openClipToJuxta(t);
  }
  if (!existsSync(weightsFile))
    throw new UserError(`${dir}: ${weightsFile} is missing (safetensors weights expected)`);
  // The config against the file's header first (shapes only): a mismatch is one line, nothing allocated.
  const renameHeader =
    format === "hf"
      ? (h: SafetensorsHeader) => hfHeaderToJuxta(h, weightsFile)
      : format === "hf-siglip"
        ? (h: SafetensorsHeader) => siglipHeaderToJuxta(h, weightsFile)
        : openClipToJuxta;
  const model = buildForWeights(() => new CLIP(cfg), weightsFile, renameHeader);
  loadWeights(model, rename(readSafetensors(weightsFile).tensors, weightsFile), weightsFile);
  const logitBias = model.logit_bias?.data[0];
  const tokenizerSource = opts.tokenizer ?? dir;
  const tokenizer = checked(loadTokenizer(tokenizerSource), cfg, tokenizerSource);
  preprocess ??= {
    imageSize: cfg.vision.imageSize,
    mean: triple(mean, CLIP_MEAN, "mean", dir),
    std: triple(std, CLIP_STD, "std", dir),
  };
  const method = logitBias !== undefined ? "siglip" : "clip";
  return {
    model,
    tokenizer,
    preprocess,
    config: { format: "juxta", version: 1, architecture: "clip", method, model: cfg, preprocess, step: 0 },
    dir,
    ...(logitBias !== undefined ? { logitBias } : {}),
  };
}

function checked(tokenizer: TextTokenizer, cfg: ClipConfig, source: string): TextTokenizer {
  checkTokenizer(tokenizer, cfg, source);
  return tokenizer;
}

function triple(v: readonly number[] | undefined, fallback: Triple, name: string, dir: string): Triple {
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === "number"))
    throw new UserError(`${dir}: preprocessing '${name}' must be three numbers, got ${JSON.stringify(v)}`);
  return [v[0], v[1], v[2]] as Triple;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${jsonErrorMessage(e)})`);
  }
}
