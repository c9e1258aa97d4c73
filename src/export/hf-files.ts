/**
 * The JSON files of a Hugging Face CLIP folder that sit beside the weights, shared by both export formats:
 * `config.json` (CLIPModel), `preprocessor_config.json` (CLIPImageProcessor: OpenAI's evaluation transform,
 * as Juxta's `preprocessImages`), `tokenizer.json` and `tokenizer_config.json` (CLIPTokenizer).
 */
import { join } from "node:path";
import type { LoadedClip, Preprocess } from "../models/saved.js";
import { onnxConfigToHf } from "../pretrained/hf.js";
import { saveTokenizerJson, type TextTokenizer } from "../text/index.js";
import { Tokenizer } from "../text/tokenizer.js";
import { UserError } from "../util/errors.js";
import { writeJsonAtomic } from "../util/fs.js";

type Json = Record<string, unknown>;

/**
 * CLIPModel's config with the tokenizer's own special ids (a ResNet image tower's as onnxConfigToHf
 * writes it; `export --format hf` refuses such a tower before it gets here). Padding uses the end token (as OpenAI's
 * tokenizer does): the text tower pools at the first end token, so trailing copies change nothing.
 */
export function hfModelConfig(loaded: LoadedClip): Json {
  const tok = clipTokenizer(loaded.tokenizer);
  return {
    ...onnxConfigToHf(loaded.model.cfg, { bos: tok.startId, eos: tok.endId, pad: tok.endId }),
    torch_dtype: "float32",
  };
}

/** Resize the shortest side to S (bicubic), centre crop S × S, scale by 1/255, normalize; RGB. */
export function preprocessorConfig(loaded: { preprocess: Preprocess }): Json {
  const { imageSize: s, mean, std } = loaded.preprocess;
  return {
    image_processor_type: "CLIPImageProcessor",
    feature_extractor_type: "CLIPFeatureExtractor",
    do_resize: true,
    size: { shortest_edge: s },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: s, width: s },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [...mean],
    image_std: [...std],
    do_convert_rgb: true,
  };
}

/** CLIPTokenizer's layout needs Juxta's byte-level BPE. */
export function clipTokenizer(tok: TextTokenizer): Tokenizer {
  if (!(tok instanceof Tokenizer))
    throw new UserError(
      "this model's tokenizer is a SentencePiece Unigram (SigLIP's); a CLIPModel export needs a byte-level BPE (CLIP's)",
    );
  return tok;
}

export function tokenizerConfig(tok: Tokenizer, contextLength: number): Json {
  return {
    tokenizer_class: "CLIPTokenizer",
    model_max_length: contextLength,
    bos_token: tok.startToken,
    eos_token: tok.endToken,
    pad_token: tok.endToken,
    unk_token: tok.endToken,
    do_lower_case: true,
    errors: "replace",
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
  };
}

/** Written by {@link writeHfSideFiles}, relative to the output folder. */
export const SIDE_FILES = [
  "config.json",
  "preprocessor_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
] as const;

/** config.json, preprocessor_config.json, tokenizer.json and tokenizer_config.json into `dir`. */
export function writeHfSideFiles(loaded: LoadedClip, dir: string): void {
  writeJsonAtomic(join(dir, "config.json"), hfModelConfig(loaded));
  writeJsonAtomic(join(dir, "preprocessor_config.json"), preprocessorConfig(loaded));
  saveTokenizerJson(loaded.tokenizer, join(dir, "tokenizer.json"));
  writeJsonAtomic(
    join(dir, "tokenizer_config.json"),
    tokenizerConfig(clipTokenizer(loaded.tokenizer), loaded.model.cfg.text.contextLength),
  );
}
