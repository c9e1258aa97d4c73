/**
 * Named CLIP shapes. `tiny` is exactly the PyTorch peer's recipe (../shared/bench/peer/clip_torch.py), so the
 * two can be timed side by side; `b32` has OpenAI ViT-B/32's shapes so that its weights can be loaded.
 */

import type { Activation } from "../nn/index.js";
import { UserError } from "../util/errors.js";
import type { ClipConfig } from "./clip.js";
import type { ResNetConfig } from "./resnet.js";

/** A pre-LN Transformer's shapes as every preset uses them (MLP 4× wide, LayerNorm ε 1e-5). */
function blocks<A extends Activation>(width: number, layers: number, heads: number, act: A) {
  return { width, layers, heads, mlpRatio: 4, act, lnEps: 1e-5 };
}

/** A 64 px ResNet-10 with a stride-2 stem (1.3 M parameters): tiny-resnet's image tower, resnet-small's backbone. */
export const RESNET_64PX: ResNetConfig = {
  type: "resnet",
  imageSize: 64,
  stemStride: 2,
  widths: [32, 64, 128, 256],
  blocks: [1, 1, 1, 1],
};

/** The peer's text tower: vocab 8192, context 32, width 256, 6 layers, 4 heads. */
const TINY_TEXT = { vocabSize: 8192, contextLength: 32, ...blocks(256, 6, 4, "gelu") };

export const PRESETS = {
  tiny: {
    embedDim: 256,
    vision: { type: "vit", imageSize: 64, patchSize: 8, ...blocks(256, 6, 4, "gelu") },
    text: TINY_TEXT,
  },
  /** tiny's text tower with a 1.3M-parameter ResNet image tower (64 px): cheaper steps than the ViT. */
  "tiny-resnet": { embedDim: 256, vision: RESNET_64PX, text: TINY_TEXT },
  small: {
    embedDim: 384,
    vision: { type: "vit", imageSize: 96, patchSize: 8, ...blocks(384, 8, 6, "gelu") },
    text: { vocabSize: 16384, contextLength: 48, ...blocks(384, 8, 6, "gelu") },
  },
  /** OpenAI's ViT-B/32 shapes. */
  b32: {
    embedDim: 512,
    vision: { type: "vit", imageSize: 224, patchSize: 32, ...blocks(768, 12, 12, "quick_gelu") },
    text: { vocabSize: 49408, contextLength: 77, ...blocks(512, 12, 8, "quick_gelu") },
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
