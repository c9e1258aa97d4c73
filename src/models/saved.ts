/**
 * The run folder, for every model family: `model.safetensors` (weights under OpenCLIP's names, metadata
 * { step }) and `juxta.json` (format, architecture, config, preprocessing, training method, step), plus
 * `tokenizer.json` for models with a text tower and the class list for image encoders trained on labels.
 *
 *   architecture "clip"           CLIP or SigLIP (method "siglip": the model has the parameter
 *                                  `logit_bias`, OpenCLIP's name for SigLIP's learned bias)
 *   architecture "image-encoder"  an image-only encoder (methods simclr, moco, supcon, triplet)
 *
 * This module is the one place that reads and writes that format; `loadRun` opens any of them.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { CLIP_MEAN, CLIP_STD } from "../image/augment.js";
import type { ResizeMode } from "../image/preprocess.js";
import { encodeSafetensors, readSafetensors } from "../io/safetensors.js";
import type { Module } from "../nn/module.js";
import type { TextTokenizer } from "../text/formats.js";
import { loadTokenizer, tokenizerJson } from "../text/index.js";
import { jsonErrorMessage, UserError } from "../util/errors.js";
import { type FileData, writeFileAtomic } from "../util/fs.js";
import { CLIP, type ClipConfig } from "./clip.js";
import { buildForWeights, checkClipConfig, checkImageEncoderConfig } from "./config-check.js";
import { ImageEncoder, type ImageEncoderConfig } from "./image-encoder.js";
import { loadWeights, weightsOf } from "./weights.js";

export const MODEL_FILE = "model.safetensors";
export const CONFIG_FILE = "juxta.json";
export const TOKENIZER_FILE = "tokenizer.json";
/** The SigLIP bias's tensor name in model.safetensors. */
export const LOGIT_BIAS = "logit_bias";

/** The contrastive loss a CLIP model was trained with. */
export type ClipMethod = "clip" | "siglip";

/** The architectures a run folder holds. */
export type Architecture = "clip" | "image-encoder";

/** How images are prepared for the model at inference time. */
export interface Preprocess {
  imageSize: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** Absent: "crop" (CLIP's); "squash" for SigLIP's processor (see image/preprocess.ts). */
  resize?: ResizeMode;
}

/** What every `juxta.json` holds. */
interface SavedCommon {
  format: "juxta";
  version: 1;
  preset?: string;
  preprocess: Preprocess;
  /** Training steps behind these weights. */
  step: number;
}

export interface SavedConfig extends SavedCommon {
  architecture: "clip";
  /** Absent in folders written before SigLIP existed: clip. */
  method?: ClipMethod;
  model: ClipConfig;
}

export interface SavedImageEncoderConfig extends SavedCommon {
  architecture: "image-encoder";
  /** The training method that produced the weights (simclr, moco, supcon, triplet). */
  method?: string;
  model: ImageEncoderConfig;
  /** Class names by label id, when the run trained on labels (sorted label strings). */
  classes?: string[];
}

export interface LoadedClip {
  model: CLIP;
  tokenizer: TextTokenizer;
  preprocess: Preprocess;
  config: SavedConfig;
  dir: string;
  /** SigLIP's learned bias b (method siglip only): the value of `model.logit_bias`. */
  logitBias?: number;
}

export interface LoadedImageEncoder {
  model: ImageEncoder;
  preprocess: Preprocess;
  config: SavedImageEncoderConfig;
  dir: string;
}

/** A loaded run of either family; `config.architecture` tells which. */
export type LoadedRun = LoadedClip | LoadedImageEncoder;

export function isLoadedClip(run: LoadedRun): run is LoadedClip {
  return run.config.architecture === "clip";
}

/** CLIP's evaluation preprocessing at the model's input size. */
export function defaultPreprocess(cfg: ClipConfig | ImageEncoderConfig): Preprocess {
  const imageSize = "vision" in cfg ? cfg.vision.imageSize : cfg.backbone.imageSize;
  return { imageSize, mean: CLIP_MEAN, std: CLIP_STD };
}

export function saveClip(
  dir: string,
  model: CLIP,
  tokenizer: TextTokenizer,
  opts: { step: number; preset?: string; preprocess?: Preprocess },
): void {
  writeRunFiles(dir, clipFiles(model, tokenizer, opts));
}

export function saveImageEncoder(
  dir: string,
  model: ImageEncoder,
  opts: { step: number; preset?: string; method?: string; classes?: string[]; preprocess?: Preprocess },
): void {
  writeRunFiles(dir, imageEncoderFiles(model, opts));
}

/** A CLIP model's run-folder files by name, in the order they are written (a checkpoint writes them too). */
export function clipFiles(
  model: CLIP,
  tokenizer: TextTokenizer,
  opts: { step: number; preset?: string; preprocess?: Preprocess },
): Record<string, FileData> {
  return {
    ...runFiles(model, {
      architecture: "clip",
      preset: opts.preset,
      method: model.logit_bias ? "siglip" : "clip",
      model: model.cfg,
      preprocess: opts.preprocess ?? defaultPreprocess(model.cfg),
      step: opts.step,
    }),
    [TOKENIZER_FILE]: tokenizerJson(tokenizer, TOKENIZER_FILE),
  };
}

/** An image encoder's run-folder files by name. */
export function imageEncoderFiles(
  model: ImageEncoder,
  opts: { step: number; preset?: string; method?: string; classes?: string[]; preprocess?: Preprocess },
): Record<string, FileData> {
  return runFiles(model, {
    architecture: "image-encoder",
    preset: opts.preset,
    method: opts.method,
    model: model.cfg,
    preprocess: opts.preprocess ?? defaultPreprocess(model.cfg),
    classes: opts.classes,
    step: opts.step,
  });
}

/** Weights first, juxta.json after: a folder whose config is written holds the weights it describes. */
function runFiles(
  model: CLIP | ImageEncoder,
  config: Omit<SavedConfig, "format" | "version"> | Omit<SavedImageEncoderConfig, "format" | "version">,
): Record<string, FileData> {
  return {
    [MODEL_FILE]: encodeSafetensors(
      weightsOf(model),
      { format: "pt", step: String(config.step) },
      MODEL_FILE,
    ),
    [CONFIG_FILE]: `${JSON.stringify({ format: "juxta", version: 1, ...config }, null, 2)}\n`,
  };
}

/** Each file atomically, in order. */
function writeRunFiles(dir: string, files: Record<string, FileData>): void {
  for (const [name, data] of Object.entries(files)) writeFileAtomic(join(dir, name), data);
}

/** The architecture a run folder holds, or undefined when `dir` is not a readable Juxta run. */
export function runArchitecture(dir: string): Architecture | undefined {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const a = (JSON.parse(readFileSync(path, "utf8")) as { architecture?: unknown }).architecture;
    return a === "clip" || a === "image-encoder" ? a : undefined;
  } catch {
    return undefined;
  }
}

/** Open a run folder of any family. */
export function loadRun(dir: string): LoadedRun {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UserError(`model folder '${dir}' does not exist (expected a folder written by juxta train)`);
  const configPath = join(dir, CONFIG_FILE);
  if (!existsSync(configPath))
    throw new UserError(
      `${dir}: no ${CONFIG_FILE} here; this is not a Juxta model folder (juxta train writes one)`,
    );
  let config: SavedConfig | SavedImageEncoderConfig;
  try {
    config = JSON.parse(readFileSync(configPath, "utf8")) as SavedConfig | SavedImageEncoderConfig;
  } catch (e) {
    throw new UserError(`${configPath}: not valid JSON (${jsonErrorMessage(e)})`);
  }
  if (
    config === null ||
    config.format !== "juxta" ||
    (config.architecture !== "clip" && config.architecture !== "image-encoder") ||
    typeof config.model !== "object"
  )
    throw new UserError(
      `${configPath}: expected {"format": "juxta", "architecture": "clip" or "image-encoder", "model": {...}}`,
    );
  const weightsPath = join(dir, MODEL_FILE);
  const readWeights = () => {
    if (!existsSync(weightsPath)) throw new UserError(`${dir}: ${MODEL_FILE} is missing`);
    return new Map(readSafetensors(weightsPath).tensors);
  };
  // Sizes checked, then the config against the weights' header, before anything is allocated.
  const field = (p: string) => (p ? `model.${p}` : "model");
  const build = <M extends Module>(make: () => M, siglip = false): M => {
    if (!existsSync(weightsPath)) throw new UserError(`${dir}: ${MODEL_FILE} is missing`);
    return buildForWeights<M>(
      make,
      weightsPath,
      (header) => {
        if (siglip && header.get(LOGIT_BIAS)?.shape.length !== 0)
          throw new UserError(
            `${weightsPath}: tensor '${LOGIT_BIAS}' (one value) is missing; ${configPath} says the run is SigLIP`,
          );
        return header;
      },
      configPath,
    );
  };
  if (config.architecture === "image-encoder") {
    checkImageEncoderConfig(config.model, configPath, field);
    const cfg = config.model;
    const model = build(() => new ImageEncoder(cfg));
    loadWeights(model, readWeights(), weightsPath);
    return { model, preprocess: config.preprocess ?? defaultPreprocess(config.model), config, dir };
  }
  const method = config.method ?? "clip";
  if (method !== "clip" && method !== "siglip")
    throw new UserError(
      `${configPath}: field 'method' must be "clip" or "siglip", got ${JSON.stringify(config.method)}`,
    );
  checkClipConfig(config.model, configPath, field);
  const cfg = config.model;
  const model = build(() => {
    const m = new CLIP(cfg);
    // Folders written before the bias was a model parameter say so only through the method; its
    // initial value is SigLIP's (the loaded weights replace it).
    if (method === "siglip") m.addLogitBias(-10);
    return m;
  }, method === "siglip");
  const tensors = readWeights();
  loadWeights(model, tensors, weightsPath);
  const tokenizerPath = join(dir, TOKENIZER_FILE);
  if (!existsSync(tokenizerPath)) throw new UserError(`${dir}: ${TOKENIZER_FILE} is missing`);
  const tokenizer = loadTokenizer(tokenizerPath);
  checkTokenizer(tokenizer, config.model, tokenizerPath);
  const logitBias = model.logit_bias?.data[0];
  return {
    model,
    tokenizer,
    preprocess: config.preprocess ?? defaultPreprocess(config.model),
    config,
    dir,
    ...(logitBias !== undefined ? { logitBias } : {}),
  };
}

/** Open a CLIP or SigLIP run folder; an image encoder's folder is refused, saying what it is. */
export function loadClip(dir: string): LoadedClip {
  const run = loadRun(dir);
  if (!isLoadedClip(run))
    throw new UserError(
      `${join(dir, CONFIG_FILE)}: expected {"format": "juxta", "architecture": "clip", …}; this folder holds an image-only encoder (${run.config.method ?? "image-encoder"})`,
    );
  return run;
}

/** Open an image-only encoder's run folder; a CLIP folder is refused, saying what it is. */
export function loadImageEncoder(dir: string): LoadedImageEncoder {
  const run = loadRun(dir);
  if (isLoadedClip(run))
    throw new UserError(
      `${join(dir, CONFIG_FILE)}: expected {"format": "juxta", "architecture": "image-encoder", …}; this folder holds a ${run.config.method ?? "clip"} model`,
    );
  return run;
}

/** Whether `dir` holds a saved image encoder (for callers that dispatch on the architecture). */
export function isImageEncoderDir(dir: string): boolean {
  return runArchitecture(dir) === "image-encoder";
}

/** The tokenizer's ids must fit the model's embedding table. */
export function checkTokenizer(tokenizer: TextTokenizer, cfg: ClipConfig, source: string): void {
  if (tokenizer.vocabSize > cfg.text.vocabSize)
    throw new UserError(
      `${source}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's text tower embeds only ${cfg.text.vocabSize}; they do not belong together`,
    );
}
