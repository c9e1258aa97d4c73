/**
 * Zero-shot classification of single images against labels given by the user, through the model handle's
 * zero-shot classifier (src/pipelines/zero-shot.ts): each label's class embedding is the mean of its prompt
 * embeddings (templates), and probabilities are the model's own scores (CLIP's softmax over the labels of
 * logit_scale · cosine, SigLIP's per-label sigmoid).
 */
import type { ImageRef, SkipLog } from "../data/types.js";
import { type HandleModel, type ModelHandle, withHandle } from "../handle/model.js";
import { ZeroShotClassifier } from "../pipelines/zero-shot.js";
import { OptionError, UserError } from "../util/errors.js";

export interface LabelScore {
  label: string;
  /** Probability (softmax over the given labels for CLIP, the label's sigmoid for SigLIP). */
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
    throw new OptionError(`{labels} expects a comma-separated list of class names, got '${list}'`);
  return labels;
}

/**
 * Classify `images` against `labels`. Given a handle, its compiled sessions and the label set's prompt
 * embeddings are reused (and stay open); given a model in memory, a handle is made for this call only.
 * With a `log`, an unreadable image is skipped and counted there with its id and reason (fatal when the
 * log is strict) and the result leaves it out; without one, it is an error naming it, as `embedInputs` does.
 */
export async function classifyImages(
  model: ModelHandle | HandleModel,
  images: readonly { id: string; ref: ImageRef }[],
  labels: readonly string[],
  opts: { templates?: readonly string[]; log?: SkipLog } = {},
): Promise<Classification[]> {
  if (labels.length === 0) throw new UserError("classify: the label set is empty");
  if (images.length === 0) throw new UserError("classify: no images given");
  return withHandle(model, {}, async (handle) => {
    const r = await handle.embedImagesSkipping(images.map((im) => im.ref));
    for (const s of r.skipped) opts.log?.add({ file: images[s.index]!.id }, s.reason);
    if ((!opts.log || r.kept.length === 0) && r.skipped.length > 0)
      throw new UserError(
        `cannot classify ${images[r.skipped[0]!.index]!.id}: ${r.skipped[0]!.reason}` +
          (r.kept.length === 0 ? ` (no image of ${images.length} could be read)` : ""),
      );
    const ranked = await ZeroShotClassifier.of(handle).classifyEmbeddings(r.embeds, labels, {
      templates: opts.templates,
    });
    return r.kept.map((k, i) => ({
      image: images[k]!.id,
      ranked: (ranked[i] ?? []).map((s) => ({ label: s.label, prob: s.score, score: s.similarity })),
    }));
  });
}
