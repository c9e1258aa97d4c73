/**
 * Zero-shot image classification against labels given at call time. Each label's class embedding is the
 * renormalized mean of its prompt embeddings (a prompt ensemble: the label filled into every template), and
 * the embeddings of a label set are cached, keyed by the labels and the templates, so a classifier called
 * many times with the same labels encodes their prompts once (transformers.js re-encodes them every call).
 *
 * Scores are the model's own: CLIP's softmax of exp(logit_scale) · cosine over the labels, SigLIP's
 * sigmoid of exp(logit_scale) · cosine + logit_bias for each label on its own (as SigLIP was trained).
 */

import type { ImageInput } from "../handle/inputs.js";
import type { ModelHandle } from "../handle/model.js";
import { dot } from "../search/kernels.js";
import { UserError } from "../util/errors.js";
import { classEmbeddings, promptName, resolveTemplates } from "./templates.js";
import { normalizedRows } from "./vectors.js";

export interface LabelScore {
  label: string;
  /** Probability: softmax over the labels (CLIP), or the label's own sigmoid (SigLIP). */
  score: number;
  /** Cosine similarity of the image and the label's class embedding. */
  similarity: number;
}

export interface ZeroShotOptions {
  /** One prompt template with '{}' for the label (transformers.js's option), e.g. "a photo of a {}.". */
  hypothesis_template?: string;
  /** A prompt ensemble: several templates, averaged per label (default: the photo and emoji sets). */
  templates?: readonly string[];
  /** Labels returned per image, best first (default: all). */
  topk?: number;
}

/** Label sets whose class embeddings are kept (least recently used dropped first). */
const CACHE_SIZE = 32;

/** One classifier (and so one prompt cache) per handle, for callers that come back with the same handle. */
const byHandle = new WeakMap<ModelHandle, ZeroShotClassifier>();

export class ZeroShotClassifier {
  private readonly cache = new Map<string, Promise<Float32Array>>();

  /** The handle's shared classifier. */
  static of(model: ModelHandle): ZeroShotClassifier {
    let c = byHandle.get(model);
    if (!c) byHandle.set(model, (c = new ZeroShotClassifier(model)));
    return c;
  }

  constructor(readonly model: ModelHandle) {
    if (!model.hasText)
      throw model.noTextTower(
        "zero-shot classification scores images against embedded label texts, so it needs one (search by image or a linear probe on its features work)",
      );
  }

  /** Labels scored for each image, best first. */
  async classify(
    images: readonly ImageInput[],
    labels: readonly string[],
    opts: ZeroShotOptions = {},
  ): Promise<LabelScore[][]> {
    if (labels.length === 0) throw new UserError("zero-shot classification: the label set is empty");
    return this.classifyEmbeddings(await this.model.embedImages(images), labels, opts);
  }

  /** Labels scored for each image embedding (rows of `embeds`, [n, dim], from this model), best first. */
  async classifyEmbeddings(
    embeds: Float32Array,
    labels: readonly string[],
    opts: ZeroShotOptions = {},
  ): Promise<LabelScore[][]> {
    if (labels.length === 0) throw new UserError("zero-shot classification: the label set is empty");
    const classes = await this.classEmbeddings(labels, templatesOf(opts));
    const dim = this.model.dim;
    const imageEmb = normalizedRows(embeds, dim, "image");
    const scale = this.model.logitScale as number;
    const bias = this.model.logitBias;
    const topk = opts.topk ?? labels.length;
    return Array.from({ length: embeds.length / dim }, (_, i) => {
      const sims = labels.map((_, c) => dot(imageEmb, i * dim, classes, c * dim, dim));
      const probs = bias === undefined ? softmax(sims, scale) : sims.map((s) => sigmoid(scale * s + bias));
      return labels
        .map((label, c) => ({ label, score: probs[c] as number, similarity: sims[c] as number }))
        .sort((a, b) => b.score - a.score)
        .slice(0, topk);
    });
  }

  /** Normalized class embeddings [labels, dim] of a label set, from the cache when it was seen before. */
  classEmbeddings(labels: readonly string[], templates: readonly string[]): Promise<Float32Array> {
    const key = JSON.stringify([labels, templates]);
    let entry = this.cache.get(key);
    if (entry) this.cache.delete(key);
    else {
      entry = classEmbeddings(labels.map(promptName), templates, (texts) =>
        this.model.embedTexts(texts, "embed prompts"),
      );
      // A failed encoding is not kept: the next call tries again.
      entry.catch(() => this.cache.delete(key));
    }
    this.cache.set(key, entry);
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    return entry;
  }

  /** Label sets cached now. */
  get cachedLabelSets(): number {
    return this.cache.size;
  }
}

function templatesOf(opts: ZeroShotOptions): readonly string[] {
  if (opts.hypothesis_template !== undefined && opts.templates !== undefined)
    throw new UserError("zero-shot classification: give hypothesis_template or templates, not both");
  if (opts.hypothesis_template !== undefined) return [opts.hypothesis_template];
  return opts.templates ?? resolveTemplates();
}

function softmax(x: readonly number[], scale: number): number[] {
  const top = Math.max(...x);
  const e = x.map((v) => Math.exp(scale * (v - top)));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
