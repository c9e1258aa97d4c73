/**
 * A saved CLIP model folder: `model.safetensors` (weights under OpenCLIP's names), `juxta.json` (architecture,
 * config, preprocessing, training method) and `tokenizer.json`. Everything that uses a trained model (eval,
 * embed, classify, search, resume) opens it through `loadClip`. A SigLIP run (`"method": "siglip"`) also
 * keeps its learned sigmoid bias as the scalar tensor `logit_bias`, OpenCLIP's name for it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CLIP_MEAN, CLIP_STD } from "../image/augment.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { loadTokenizer, saveTokenizerJson } from "../text/index.js";
import type { Tokenizer } from "../text/tokenizer.js";
import { UserError } from "../util/errors.js";
import { writeJsonAtomic } from "../util/fs.js";
import { CLIP, type ClipConfig } from "./clip.js";
import { loadWeights, weightsOf } from "./weights.js";

export const MODEL_FILE = "model.safetensors";
export const CONFIG_FILE = "juxta.json";
export const TOKENIZER_FILE = "tokenizer.json";
/** The SigLIP bias's tensor name in model.safetensors. */
export const LOGIT_BIAS = "logit_bias";

/** The contrastive loss a CLIP model was trained with. */
export type ClipMethod = "clip" | "siglip";

/** How images are prepared for the model at inference time. */
export interface Preprocess {
  imageSize: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface SavedConfig {
  format: "juxta";
  version: 1;
  architecture: "clip";
  preset?: string;
  /** Absent in folders written before SigLIP existed: clip. */
  method?: ClipMethod;
  model: ClipConfig;
  preprocess: Preprocess;
  /** Training steps behind these weights. */
  step: number;
}

export interface LoadedClip {
  model: CLIP;
  tokenizer: Tokenizer;
  preprocess: Preprocess;
  config: SavedConfig;
  dir: string;
  /** SigLIP's learned bias b (method siglip only). */
  logitBias?: number;
}

export function defaultPreprocess(cfg: ClipConfig): Preprocess {
  return { imageSize: cfg.vision.imageSize, mean: CLIP_MEAN, std: CLIP_STD };
}

export function saveClip(
  dir: string,
  model: CLIP,
  tokenizer: Tokenizer,
  opts: { step: number; preset?: string; preprocess?: Preprocess; logitBias?: number },
): void {
  const tensors = weightsOf(model);
  if (opts.logitBias !== undefined)
    tensors[LOGIT_BIAS] = { dtype: "F32", shape: [], data: Float32Array.of(opts.logitBias) };
  writeSafetensors(join(dir, MODEL_FILE), tensors, { format: "pt", step: String(opts.step) });
  saveTokenizerJson(tokenizer, join(dir, TOKENIZER_FILE));
  const config: SavedConfig = {
    format: "juxta",
    version: 1,
    architecture: "clip",
    preset: opts.preset,
    method: opts.logitBias !== undefined ? "siglip" : "clip",
    model: model.cfg,
    preprocess: opts.preprocess ?? defaultPreprocess(model.cfg),
    step: opts.step,
  };
  writeJsonAtomic(join(dir, CONFIG_FILE), config);
}

export function loadClip(dir: string): LoadedClip {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UserError(`model folder '${dir}' does not exist (expected a folder written by juxta train)`);
  const configPath = join(dir, CONFIG_FILE);
  if (!existsSync(configPath))
    throw new UserError(
      `${dir}: no ${CONFIG_FILE} here; this is not a Juxta model folder (juxta train writes one)`,
    );
  let config: SavedConfig;
  try {
    config = JSON.parse(readFileSync(configPath, "utf8")) as SavedConfig;
  } catch (e) {
    throw new UserError(`${configPath}: not valid JSON (${(e as Error).message})`);
  }
  if (config.format !== "juxta" || config.architecture !== "clip" || typeof config.model !== "object")
    throw new UserError(
      `${configPath}: expected {"format": "juxta", "architecture": "clip", "model": {...}}`,
    );
  let model: CLIP;
  try {
    model = new CLIP(config.model);
  } catch (e) {
    throw new UserError(`${configPath}: field 'model' is not a valid CLIP config (${(e as Error).message})`);
  }
  const weightsPath = join(dir, MODEL_FILE);
  if (!existsSync(weightsPath)) throw new UserError(`${dir}: ${MODEL_FILE} is missing`);
  const tensors = new Map(readSafetensors(weightsPath).tensors);
  let logitBias: number | undefined;
  if (config.method === "siglip") {
    const bias = tensors.get(LOGIT_BIAS)?.data;
    if (bias?.length !== 1)
      throw new UserError(
        `${weightsPath}: tensor '${LOGIT_BIAS}' (one value) is missing; ${configPath} says the run is SigLIP`,
      );
    logitBias = Number(bias[0]);
    tensors.delete(LOGIT_BIAS);
  } else if (config.method !== undefined && config.method !== "clip")
    throw new UserError(
      `${configPath}: field 'method' must be "clip" or "siglip", got ${JSON.stringify(config.method)}`,
    );
  loadWeights(model, tensors, weightsPath);
  const tokenizerPath = join(dir, TOKENIZER_FILE);
  if (!existsSync(tokenizerPath)) throw new UserError(`${dir}: ${TOKENIZER_FILE} is missing`);
  const tokenizer = loadTokenizer(tokenizerPath);
  checkTokenizer(tokenizer, config.model, tokenizerPath);
  return {
    model,
    tokenizer,
    preprocess: config.preprocess ?? defaultPreprocess(config.model),
    config,
    dir,
    ...(logitBias !== undefined ? { logitBias } : {}),
  };
}

/** The tokenizer's ids must fit the model's embedding table. */
export function checkTokenizer(tokenizer: Tokenizer, cfg: ClipConfig, source: string): void {
  if (tokenizer.vocabSize > cfg.text.vocabSize)
    throw new UserError(
      `${source}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's text tower embeds only ${cfg.text.vocabSize}; they do not belong together`,
    );
}
