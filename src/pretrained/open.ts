/**
 * Open any CLIP model folder Juxta understands, detected by the files in it:
 *   juxta.json                                  a Juxta run (juxta train)
 *   config.json with "model_type": "clip"       a Hugging Face CLIPModel folder
 *   open_clip_config.json                       an OpenCLIP folder
 * Every command that takes a model goes through here, so pretrained checkpoints work wherever a run does.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CLIP_MEAN, CLIP_STD, type Triple } from "../image/augment.js";
import { readSafetensors } from "../io/safetensors.js";
import { CLIP, type ClipConfig } from "../models/clip.js";
import { CONFIG_FILE, checkTokenizer, type LoadedClip, loadClip, type Preprocess } from "../models/saved.js";
import { loadWeights } from "../models/weights.js";
import { loadTokenizer } from "../text/index.js";
import type { Tokenizer } from "../text/tokenizer.js";
import { UserError } from "../util/errors.js";
import { hfToConfig, hfToJuxta } from "./hf.js";
import { openClipToConfig, openClipToJuxta } from "./openclip.js";

export type ModelFormat = "juxta" | "hf" | "openclip";

export interface OpenOptions {
  /** A tokenizer file or folder to use instead of the one in the model folder. */
  tokenizer?: string;
}

export function detectFormat(dir: string): ModelFormat {
  if (!existsSync(dir)) throw new UserError(`model folder '${dir}' does not exist`);
  if (!statSync(dir).isDirectory()) throw new UserError(`'${dir}' is a file; expected a model folder`);
  if (existsSync(join(dir, CONFIG_FILE))) return "juxta";
  if (existsSync(join(dir, "open_clip_config.json"))) return "openclip";
  const hf = join(dir, "config.json");
  if (existsSync(hf) && (readJson(hf) as { model_type?: string }).model_type === "clip") return "hf";
  throw new UserError(
    `${dir}: not a model folder Juxta knows; expected ${CONFIG_FILE} (a Juxta run), config.json with model_type "clip" (Hugging Face) or open_clip_config.json (OpenCLIP)`,
  );
}

export function openModel(dir: string, opts: OpenOptions = {}): LoadedClip {
  const format = detectFormat(dir);
  if (format === "juxta") {
    const loaded = loadClip(dir);
    if (opts.tokenizer)
      loaded.tokenizer = checked(loadTokenizer(opts.tokenizer), loaded.model.cfg, opts.tokenizer);
    return loaded;
  }
  let cfg: ClipConfig;
  let weightsFile: string;
  let mean: readonly number[] | undefined;
  let std: readonly number[] | undefined;
  let rename: typeof hfToJuxta;
  if (format === "hf") {
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
  const model = new CLIP(cfg);
  loadWeights(model, rename(readSafetensors(weightsFile).tensors, weightsFile), weightsFile);
  const tokenizerSource = opts.tokenizer ?? dir;
  const tokenizer = checked(loadTokenizer(tokenizerSource), cfg, tokenizerSource);
  const preprocess: Preprocess = {
    imageSize: cfg.vision.imageSize,
    mean: triple(mean, CLIP_MEAN, "mean", dir),
    std: triple(std, CLIP_STD, "std", dir),
  };
  return {
    model,
    tokenizer,
    preprocess,
    config: { format: "juxta", version: 1, architecture: "clip", model: cfg, preprocess, step: 0 },
    dir,
  };
}

function checked(tokenizer: Tokenizer, cfg: ClipConfig, source: string): Tokenizer {
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
    throw new UserError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}
