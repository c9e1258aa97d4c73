/**
 * Which of a repository's files a model needs: one format's config and safetensors weights, its image
 * preprocessing and the tokenizer files. Never pickles (`*.bin`, `*.pt`: loading them can run code), never
 * other frameworks' weights (TensorFlow, Flax, ONNX exports).
 */
import { UserError } from "../util/errors.js";

export type HubFormat = "juxta" | "openclip" | "hf";

interface Layout {
  format: HubFormat;
  config: string;
  weights: string;
  extra: readonly string[];
}

/** In `detectFormat`'s order, so the folder opens as the format chosen here. */
const LAYOUTS: readonly Layout[] = [
  { format: "juxta", config: "juxta.json", weights: "model.safetensors", extra: [] },
  { format: "openclip", config: "open_clip_config.json", weights: "open_clip_model.safetensors", extra: [] },
  { format: "hf", config: "config.json", weights: "model.safetensors", extra: ["preprocessor_config.json"] },
];

const TOKENIZER_FILES = [
  "tokenizer.json",
  "vocab.json",
  "merges.txt",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "spiece.model",
  "bpe_simple_vocab_16e6.txt.gz",
];

/** What to name when a model is missing: the files a user would put in a folder. */
export const NEEDED_FILES_HINT =
  "config.json, model.safetensors and tokenizer.json (or vocab.json + merges.txt; spiece.model for SigLIP) for a Hugging Face CLIPModel or SiglipModel, or open_clip_config.json, open_clip_model.safetensors and tokenizer.json for OpenCLIP";

/** The files to fetch from a repo that has `available`, or a UserError saying why none will do. */
export function modelFiles(
  available: readonly string[],
  source: string,
): { format: HubFormat; files: string[] } {
  const has = new Set(available);
  const layout = LAYOUTS.find((l) => has.has(l.config) && has.has(l.weights));
  if (layout) {
    const wanted = [layout.config, layout.weights, ...layout.extra, ...TOKENIZER_FILES];
    return { format: layout.format, files: wanted.filter((f) => has.has(f)) };
  }
  const pickles = available.filter((f) => /\.(bin|pt|pth|ckpt|pkl)$/.test(f) && !f.includes("/"));
  if (pickles.length > 0)
    throw new UserError(
      `${source}: only PyTorch pickle weights (${pickles.join(", ")}); Juxta reads safetensors only, never pickles (loading one can run code). Look for a revision with model.safetensors (the Hub's "convert to safetensors" pull requests: ${source}@refs/pr/N)`,
    );
  if (has.has("model.safetensors.index.json"))
    throw new UserError(
      `${source}: the weights are sharded (model.safetensors.index.json); Juxta reads one model.safetensors`,
    );
  const shown = available.length > 12 ? `${available.slice(0, 12).join(", ")}, …` : available.join(", ");
  throw new UserError(
    `${source}: not a model Juxta can open; expected ${NEEDED_FILES_HINT}; the repo has ${shown || "no files"}`,
  );
}
