/**
 * Named CLIP shapes. `tiny` is exactly the PyTorch peer's recipe (../shared/bench/peer/clip_torch.py), so the
 * two can be timed side by side; `b32` has OpenAI ViT-B/32's shapes so that its weights can be loaded.
 */
import { UserError } from "../util/errors.js";
import type { ClipConfig } from "./clip.js";

/** The peer's text tower: vocab 8192, context 32, width 256, 6 layers, 4 heads. */
const TINY_TEXT = {
  vocabSize: 8192,
  contextLength: 32,
  width: 256,
  layers: 6,
  heads: 4,
  mlpRatio: 4,
  act: "gelu",
  lnEps: 1e-5,
} as const;

export const PRESETS = {
  tiny: {
    embedDim: 256,
    vision: {
      type: "vit",
      imageSize: 64,
      patchSize: 8,
      width: 256,
      layers: 6,
      heads: 4,
      mlpRatio: 4,
      act: "gelu",
      lnEps: 1e-5,
    },
    text: TINY_TEXT,
  },
  /** tiny's text tower with a 1.3M-parameter ResNet image tower (64 px): cheaper steps than the ViT. */
  "tiny-resnet": {
    embedDim: 256,
    vision: {
      type: "resnet",
      imageSize: 64,
      stemStride: 2,
      widths: [32, 64, 128, 256],
      blocks: [1, 1, 1, 1],
    },
    text: TINY_TEXT,
  },
  small: {
    embedDim: 384,
    vision: {
      type: "vit",
      imageSize: 96,
      patchSize: 8,
      width: 384,
      layers: 8,
      heads: 6,
      mlpRatio: 4,
      act: "gelu",
      lnEps: 1e-5,
    },
    text: {
      vocabSize: 16384,
      contextLength: 48,
      width: 384,
      layers: 8,
      heads: 6,
      mlpRatio: 4,
      act: "gelu",
      lnEps: 1e-5,
    },
  },
  b32: {
    embedDim: 512,
    vision: {
      type: "vit",
      imageSize: 224,
      patchSize: 32,
      width: 768,
      layers: 12,
      heads: 12,
      mlpRatio: 4,
      act: "quick_gelu",
      lnEps: 1e-5,
    },
    text: {
      vocabSize: 49408,
      contextLength: 77,
      width: 512,
      layers: 12,
      heads: 8,
      mlpRatio: 4,
      act: "quick_gelu",
      lnEps: 1e-5,
    },
  },
} as const satisfies Record<string, ClipConfig>;

export type PresetName = keyof typeof PRESETS;

/** A copy of preset `name`'s shapes; a name outside `PresetName` (from a command line or a file) is a UserError. */
export function presetConfig(name: PresetName): ClipConfig {
  const cfg = (PRESETS as Record<string, ClipConfig>)[name];
  if (!cfg)
    throw new UserError(`unknown preset '${name}'; choose one of: ${Object.keys(PRESETS).join(", ")}`);
  return structuredClone(cfg) as ClipConfig;
}
