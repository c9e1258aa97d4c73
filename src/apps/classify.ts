/**
 * Zero-shot classification of single images against labels given by the user: each label's class
 * embedding is the mean of its prompt embeddings (templates), and probabilities are the softmax of
 * logit_scale · cosine similarity, as the model was trained to score pairs.
 */
import type { ImageRef } from "../data/types.js";
import { classEmbeddings } from "../eval/zeroshot.js";
import { dot } from "../search/kernels.js";
import { UserError } from "../util/errors.js";
import { type ClipLike, Embedder, logitScale, normalizedRows } from "./embedder.js";
import { promptName, resolveTemplates } from "./templates.js";

export interface LabelScore {
  label: string;
  /** Softmax probability over the given labels. */
  prob: number;
  /** Cosine similarity of the image and the label's class embedding. */
  score: number;
}

export interface Classification {
  image: string;
  /** Every label, most probable first. */
  ranked: LabelScore[];
}

/** Labels from a comma-separated list: trimmed, empty entries dropped, each at most once. */
export function parseLabels(list: string): string[] {
  const labels = [...new Set(list.split(",").map((l) => l.trim()))].filter((l) => l !== "");
  if (labels.length === 0)
    throw new UserError(`--labels expects a comma-separated list of class names, got '${list}'`);
  return labels;
}

export async function classifyImages(
  clip: ClipLike,
  images: readonly { id: string; ref: ImageRef }[],
  labels: readonly string[],
  opts: { templates?: readonly string[] } = {},
): Promise<Classification[]> {
  if (labels.length === 0) throw new UserError("classify: the label set is empty");
  if (images.length === 0) throw new UserError("classify: no images given");
  const embedder = await Embedder.create(clip);
  try {
    const dim = embedder.dim;
    const classEmb = await classEmbeddings(
      labels.map(promptName),
      opts.templates ?? resolveTemplates(),
      (texts) => embedder.embedTexts(texts),
    );
    const imageEmb = normalizedRows(await embedder.embedImages(images.map((im) => im.ref)), dim, "image");
    const scale = logitScale(clip);
    return images.map((im, i) => {
      const scores = labels.map((_, c) => dot(imageEmb, i * dim, classEmb, c * dim, dim));
      const top = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(scale * (s - top)));
      const sum = weights.reduce((a, b) => a + b, 0);
      const ranked = labels
        .map((label, c) => ({ label, prob: (weights[c] as number) / sum, score: scores[c] as number }))
        .sort((a, b) => b.prob - a.prob);
      return { image: im.id, ranked };
    });
  } finally {
    await embedder.release();
  }
}
