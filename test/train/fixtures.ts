/** A CLIP small enough for a test's training run: 16 px ViT and an 8-token text tower, one block each. */
import type { ClipConfig } from "../../src/models/clip.js";

export const TINY_CLIP: ClipConfig = {
  embedDim: 16,
  vision: {
    type: "vit",
    imageSize: 16,
    patchSize: 8,
    width: 16,
    layers: 1,
    heads: 2,
    mlpRatio: 2,
    act: "gelu",
    lnEps: 1e-5,
  },
  text: {
    vocabSize: 600,
    contextLength: 8,
    width: 16,
    layers: 1,
    heads: 2,
    mlpRatio: 2,
    act: "gelu",
    lnEps: 1e-5,
  },
};
