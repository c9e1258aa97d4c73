/**
 * Pipelines on a model handle, in the shape transformers.js users know: made once with
 * `pipeline(task, model)`, called many times; the model's sessions are compiled on the first call that
 * needs each tower and reused after.
 *
 *   const classify = await pipeline("zero-shot-image-classification", "runs/emoji");
 *   await classify("cat.png", ["cat", "dog"]);            // [{ label, score, similarity }], best first
 *   const images = await pipeline("image-feature-extraction", model);
 *   (await images(["a.png", buffer])).dims;               // [2, dim]
 *   const texts = await pipeline("feature-extraction", model);
 *   const search = await pipeline("retrieval", model);
 *   await search.add(["a.png", "b.png"]); await search("a red fruit", { k: 5 });
 *   const check = await pipeline("moderation", model, { policy: "policy.json" });
 *   await check(["upload.png"]);                          // [{ id, decision, hits, explanation, … }]
 *
 * `model` is a handle from `openModel` (the pipeline borrows it: disposing the pipeline leaves the handle
 * open) or a source string (the pipeline opens the model and disposes it with itself).
 */
import type { ImageInput } from "../handle/inputs.js";
import type { ModelHandle, ModelTask } from "../handle/model.js";
import { type OpenModelOptions, openModel } from "../handle/open.js";
import { type ModerationItem, type ModerationResult, Moderator } from "../moderate/moderate.js";
import { type LoadedPolicy, loadPolicy, type Policy } from "../moderate/policy.js";
import { type SearchHit, VectorIndex } from "../search/index.js";
import { UserError } from "../util/errors.js";
import { type EmbeddingTensor, embeddingTensor, normalizedRows } from "./vectors.js";
import { type LabelScore, ZeroShotClassifier, type ZeroShotOptions } from "./zero-shot.js";

export type { EmbeddingTensor } from "./vectors.js";
export type { LabelScore, ZeroShotOptions } from "./zero-shot.js";

interface PipelineBase {
  readonly task: PipelineTask;
  readonly model: ModelHandle;
  /** Release what the pipeline holds (and the model, when the pipeline opened it). */
  dispose(): Promise<void>;
}

export interface EmbedOptions {
  /** L2-normalize each row (default true: cosine similarity is then a dot product). */
  normalize?: boolean;
}

/** Images → embeddings [n, dim] (for an image-only encoder, its backbone features). */
export interface ImageFeatureExtractionPipeline extends PipelineBase {
  (images: ImageInput | readonly ImageInput[], opts?: EmbedOptions): Promise<EmbeddingTensor>;
}

/** Texts → embeddings [n, dim] (models with a text tower). */
export interface FeatureExtractionPipeline extends PipelineBase {
  (texts: string | readonly string[], opts?: EmbedOptions): Promise<EmbeddingTensor>;
}

export interface ZeroShotImageClassificationPipeline extends PipelineBase {
  /** One image: its labels, best first. */
  (image: ImageInput, labels: readonly string[], opts?: ZeroShotOptions): Promise<LabelScore[]>;
  /** Several images: one ranking each. */
  (images: readonly ImageInput[], labels: readonly string[], opts?: ZeroShotOptions): Promise<LabelScore[][]>;
  readonly classifier: ZeroShotClassifier;
}

/** A query: a text (models with a text tower), or an image. */
export type RetrievalQuery = string | { text: string } | { image: ImageInput };

export interface RetrievalPipeline extends PipelineBase {
  /** The k gallery images closest to the query, best first (cosine similarity). */
  (query: RetrievalQuery, opts?: { k?: number }): Promise<SearchHit[]>;
  /** Embed images into the gallery; ids default to the path (or `image N`). Returns the gallery size. */
  add(images: readonly ImageInput[], ids?: readonly string[]): Promise<number>;
  /** The gallery (an exact cosine index; save it with `index.save(dir)`). */
  readonly index: VectorIndex;
}

export interface ModerationPipeline extends PipelineBase {
  /** Decisions with explanations: images, or items with captions and ids. */
  (items: ImageInput | readonly (ImageInput | ModerationItem)[]): Promise<ModerationResult[]>;
  /** The policy's compiled concepts; `moderateEmbeddings` moderates vectors already embedded. */
  readonly moderator: Moderator;
}

export interface PipelineTypes {
  "zero-shot-image-classification": ZeroShotImageClassificationPipeline;
  "image-feature-extraction": ImageFeatureExtractionPipeline;
  "feature-extraction": FeatureExtractionPipeline;
  retrieval: RetrievalPipeline;
  moderation: ModerationPipeline;
}

export type PipelineTask = keyof PipelineTypes & ModelTask;
export const PIPELINE_TASKS = Object.freeze([
  "zero-shot-image-classification",
  "image-feature-extraction",
  "feature-extraction",
  "retrieval",
  "moderation",
] as const satisfies readonly PipelineTask[]);

export interface PipelineOptions extends OpenModelOptions {
  /** retrieval: search this index instead of a new, empty one (it must hold this model's embeddings). */
  index?: VectorIndex;
  /** moderation: the policy (a file, or a policy object). */
  policy?: string | Policy | LoadedPolicy;
}

export async function pipeline<T extends PipelineTask>(
  task: T,
  model: ModelHandle | string,
  opts: PipelineOptions = {},
): Promise<PipelineTypes[T]> {
  if (!(PIPELINE_TASKS as readonly string[]).includes(task))
    throw new UserError(`unknown pipeline task '${task}'; choose one of ${PIPELINE_TASKS.join(", ")}`);
  const owned = typeof model === "string";
  const handle = owned ? await openModel(model, opts) : model;
  try {
    return (await makePipeline(task, handle, owned, opts)) as PipelineTypes[T];
  } catch (e) {
    if (owned) await handle.dispose();
    throw e;
  }
}

async function makePipeline(task: PipelineTask, model: ModelHandle, owned: boolean, opts: PipelineOptions) {
  const base = (extra: () => Promise<void> = async () => {}) => ({
    task,
    model,
    async dispose() {
      await extra();
      if (owned) await model.dispose();
    },
  });
  const rows = (x: Float32Array, normalize: boolean | undefined, what: string) =>
    embeddingTensor(normalize === false ? x : normalizedRows(x, model.dim, what), model.dim);
  switch (task) {
    case "image-feature-extraction":
      return Object.assign(
        async (images: ImageInput | readonly ImageInput[], o: EmbedOptions = {}) =>
          rows(await model.embedImages(imageList(images)), o.normalize, "image"),
        base(),
      );
    case "feature-extraction":
      requireText(model, task);
      return Object.assign(
        async (texts: string | readonly string[], o: EmbedOptions = {}) =>
          rows(await model.embedTexts(typeof texts === "string" ? [texts] : texts), o.normalize, "text"),
        base(),
      );
    case "zero-shot-image-classification": {
      const classifier = ZeroShotClassifier.of(model);
      const classify = async (
        images: ImageInput | readonly ImageInput[],
        labels: readonly string[],
        o?: ZeroShotOptions,
      ) => {
        const ranked = await classifier.classify(imageList(images), labels, o);
        return Array.isArray(images) ? ranked : ranked[0];
      };
      return Object.assign(classify, base(), { classifier });
    }
    case "retrieval":
      return retrieval(model, opts.index, base());
    case "moderation": {
      if (opts.policy === undefined)
        throw new UserError("moderation: give the policy ({ policy: 'policy.json' })");
      const moderator = await Moderator.create(
        model,
        typeof opts.policy === "string" ? loadPolicy(opts.policy) : opts.policy,
      );
      const check = (items: ImageInput | readonly (ImageInput | ModerationItem)[]) =>
        moderator.moderate(
          (Array.isArray(items) ? items : [items]).map((it) =>
            it !== null && typeof it === "object" && "image" in it
              ? (it as ModerationItem)
              : { image: it as ImageInput },
          ),
        );
      return Object.assign(check, base(), { moderator });
    }
  }
}

function retrieval(
  model: ModelHandle,
  given: VectorIndex | undefined,
  base: PipelineBase,
): RetrievalPipeline {
  if (given && given.dim !== model.dim)
    throw new UserError(`retrieval: the index is ${given.dim}-d but ${model.name} embeds to ${model.dim}-d`);
  const index = given ?? VectorIndex.create(model.dim);
  const search = async (query: RetrievalQuery, o: { k?: number } = {}) => {
    const q =
      typeof query === "string" || "text" in query
        ? await textQuery(model, typeof query === "string" ? query : query.text)
        : await model.embedImages([query.image]);
    return index.searchAsync(q, o.k ?? 10);
  };
  const add = async (images: readonly ImageInput[], ids?: readonly string[]) => {
    if (ids && ids.length !== images.length)
      throw new UserError(`retrieval: ${images.length} images but ${ids.length} ids`);
    const names = ids ?? images.map((im, i) => (typeof im === "string" ? im : `image ${index.size + i}`));
    index.add(names, await model.embedImages(images));
    return index.size;
  };
  return Object.assign(search, base, { add, index });
}

function textQuery(model: ModelHandle, text: string): Promise<Float32Array> {
  requireText(model, "retrieval by text");
  return model.embedTexts([text]);
}

function requireText(model: ModelHandle, what: string): void {
  if (!model.hasText) throw model.noTextTower(`${what} needs one (search it by image)`);
}

function imageList(images: ImageInput | readonly ImageInput[]): readonly ImageInput[] {
  return Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
}
