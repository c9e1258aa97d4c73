/**
 * The model handle: one object per opened model, of any family, that embeds images (always) and texts
 * (where there is a text tower) as many times as asked. Its ONNX Runtime sessions are compiled lazily, on
 * the first call that needs each tower, and kept until `dispose()`; the pipelines (src/pipelines), the
 * application commands and evaluation all embed through it.
 *
 * Images are decoded and preprocessed with the model's own `preprocess`, several at a time, and the next
 * chunk is decoded while the current one runs; texts are tokenized with the model's tokenizer at its context
 * length. Long work draws a progress line on the `progress` stream.
 *
 * For an image-only encoder the image embedding is the backbone's output, before the projection head:
 * the representation kNN and linear probes score, and the one that retrieves similar images.
 */
import type { ImageRef } from "../data/types.js";
import { type SessionOptions, WEIGHT_FORMATS, type WeightFormat } from "../engine/index.js";
import type { Normalization } from "../image/augment.js";
import { decodeImage } from "../image/decode.js";
import { preprocessInto } from "../image/preprocess.js";
import { CLIP, MAX_LOGIT_SCALE } from "../models/clip.js";
import { ClipEncoders } from "../models/encoders.js";
import { type ImageEncoder, ImageFeatureEncoder } from "../models/image-encoder.js";
import type { LoadedRun, Preprocess } from "../models/saved.js";
import type { TextTokenizer } from "../text/formats.js";
import { UserError } from "../util/errors.js";
import { Progress, type ProgressStream } from "../util/progress.js";
import { type ImageInput, toImageRef } from "./inputs.js";

/** The model families: CLIP and SigLIP have both towers; an image encoder (simclr, moco, …) has images only. */
export type ModelFamily = "clip" | "siglip" | "image-encoder";

/** What a model can be used for, as pipeline task names. */
export type ModelTask =
  | "image-feature-extraction"
  | "feature-extraction"
  | "zero-shot-image-classification"
  | "retrieval"
  | "moderation";

/**
 * Precision of the compiled inference sessions: fp32; fp16 (weights rounded to float16, computed in
 * float32: the CPU has no fast float16 math, so it is fp32's speed); q8 (int8 weights per output channel,
 * int8 activations quantized at run time: faster on the CPU, a small drift that `juxta eval --dtype q8`
 * measures). See docs/quantization.md.
 */
export type InferenceDtype = WeightFormat;

export interface HandleOptions {
  /** Inference precision of the compiled sessions (default fp32). */
  dtype?: InferenceDtype;
  /** ONNX Runtime session options for every session the handle compiles. */
  session?: SessionOptions;
  /** Draw progress lines for long work on this stream (e.g. process.stderr); none when absent. */
  progress?: ProgressStream;
}

/** What a handle wraps: a loaded folder, or a model in memory (e.g. being trained) with its tokenizer. */
export type HandleModel =
  | { model: CLIP; tokenizer: TextTokenizer; preprocess: Preprocess; dir?: string }
  | { model: ImageEncoder; preprocess: Preprocess; dir?: string };

/** Preprocessed pixels held at once stay near this many floats (64 MB): large images embed in smaller chunks. */
const CHUNK_VALUES = 1 << 24;
const MAX_CHUNK = 256;
/** Below this many items no progress line is drawn: it would only flash by. */
const PROGRESS_MIN = 64;

export class ModelHandle {
  readonly family: ModelFamily;
  /** The training method behind the weights where known (clip, siglip, simclr, moco, supcon, triplet). */
  readonly method?: string;
  /** Rows per ONNX Runtime run. */
  readonly chunk: number;
  private clipEncoders?: Promise<ClipEncoders>;
  private featureEncoder?: Promise<ImageFeatureEncoder>;
  private disposed = false;

  constructor(
    readonly loaded: HandleModel | LoadedRun,
    private readonly opts: HandleOptions = {},
  ) {
    if (opts.dtype !== undefined && !WEIGHT_FORMATS.includes(opts.dtype))
      throw new UserError(`dtype: expected ${WEIGHT_FORMATS.join(", ")}, got '${opts.dtype}'`);
    const size = loaded.preprocess.imageSize;
    this.chunk = Math.max(1, Math.min(MAX_CHUNK, Math.floor(CHUNK_VALUES / (3 * size * size))));
    const m = loaded.model;
    this.family = m instanceof CLIP ? (m.logit_bias ? "siglip" : "clip") : "image-encoder";
    const saved = "config" in loaded ? loaded.config.method : undefined;
    this.method = saved ?? (this.family === "image-encoder" ? undefined : this.family);
  }

  /** Precision of the compiled sessions (fp32, fp16 or q8). */
  get dtype(): InferenceDtype {
    return this.opts.dtype ?? "fp32";
  }

  /** The folder the model was opened from (absent for a model in memory). */
  get dir(): string | undefined {
    return this.loaded.dir;
  }

  /** Whether the model has a text tower (texts, zero-shot classification, search by text). */
  get hasText(): boolean {
    return this.loaded.model instanceof CLIP;
  }

  /** The tasks this model can serve, as pipeline names. */
  get tasks(): readonly ModelTask[] {
    return this.hasText
      ? [
          "image-feature-extraction",
          "feature-extraction",
          "zero-shot-image-classification",
          "retrieval",
          "moderation",
        ]
      : ["image-feature-extraction", "retrieval", "moderation"];
  }

  /** Size of the embeddings this model returns (images and texts alike). */
  get dim(): number {
    const m = this.loaded.model;
    return m instanceof CLIP ? m.cfg.embedDim : m.featureDim;
  }

  get preprocess(): Preprocess {
    return this.loaded.preprocess;
  }

  get imageSize(): number {
    return this.loaded.preprocess.imageSize;
  }

  /** The tokenizer (models with a text tower). */
  get tokenizer(): TextTokenizer | undefined {
    return "tokenizer" in this.loaded ? this.loaded.tokenizer : undefined;
  }

  /** Token positions per text (models with a text tower). */
  get contextLength(): number | undefined {
    const m = this.loaded.model;
    return m instanceof CLIP ? m.cfg.text.contextLength : undefined;
  }

  /**
   * exp(logit_scale) (models with a text tower): clamped at 100 for CLIP, as its training clamps it;
   * unclamped for SigLIP, as its sigmoid loss and Hugging Face's SiglipModel use it.
   */
  get logitScale(): number | undefined {
    const m = this.loaded.model;
    if (!(m instanceof CLIP)) return undefined;
    const t = m.logit_scale.data[0] as number;
    return Math.exp(m.logit_bias ? t : Math.min(t, MAX_LOGIT_SCALE));
  }

  /** SigLIP's learned bias b (SigLIP models only). */
  get logitBias(): number | undefined {
    const m = this.loaded.model;
    return m instanceof CLIP ? m.logit_bias?.data[0] : undefined;
  }

  /** A phrase naming the model in messages. */
  get name(): string {
    return this.loaded.dir ?? `this ${this.family} model`;
  }

  /** The error for asking an image-only encoder for what needs a text tower; `why` completes the sentence. */
  noTextTower(why: string): UserError {
    const method = this.method ? ` trained with ${this.method}` : "";
    return new UserError(`${this.name} is an image-only encoder (no text tower)${method}; ${why}`);
  }

  /** Projected, unnormalized image embeddings [n, dim]; an unreadable image is a UserError naming it. */
  async embedImages(images: readonly ImageInput[], label = "embed images"): Promise<Float32Array> {
    const refs = images.map(toImageRef);
    const n = refs.length;
    const dim = this.dim;
    const out = new Float32Array(n * dim);
    const bar = this.bar(label, n, "images");
    const load = (start: number) => {
      const p = this.pixelsOf(refs, start, Math.min(n, start + this.chunk)).then((c) => c.pixels);
      // Marked handled now: it may fail while the previous chunk is still encoding; it is awaited later.
      p.catch(() => undefined);
      return p;
    };
    let next = n > 0 ? load(0) : undefined;
    for (let start = 0; start < n; start += this.chunk) {
      const pixels = await (next as Promise<Float32Array>);
      next = start + this.chunk < n ? load(start + this.chunk) : undefined;
      out.set(await this.embedPixels(pixels), start * dim);
      bar?.tick(pixels.length / (3 * this.imageSize ** 2));
    }
    bar?.done();
    return out;
  }

  /**
   * Like {@link embedImages}, but an image that cannot be decoded is skipped instead of failing the call:
   * `embeds` holds a row for each image in `kept` (indices into `images`, in order), and `skipped` says
   * which were left out and why ("unreadable image: …", the SkipLog convention).
   */
  async embedImagesSkipping(
    images: readonly ImageInput[],
    label = "embed images",
    /** No progress bar of its own (a caller embedding a stream in blocks shows one for all of them). */
    quiet = false,
  ): Promise<{ embeds: Float32Array; kept: number[]; skipped: { index: number; reason: string }[] }> {
    const refs = images.map(toImageRef);
    const n = refs.length;
    const dim = this.dim;
    const parts: Float32Array[] = [];
    const kept: number[] = [];
    const skipped: { index: number; reason: string }[] = [];
    const bar = quiet ? undefined : this.bar(label, n, "images");
    for (let start = 0; start < n; start += this.chunk) {
      const end = Math.min(n, start + this.chunk);
      const chunk = await this.pixelsOf(refs, start, end, skipped);
      if (chunk.kept.length > 0) parts.push(await this.embedPixels(chunk.pixels));
      kept.push(...chunk.kept);
      bar?.tick(end - start);
    }
    bar?.done();
    const embeds = new Float32Array(kept.length * dim);
    let at = 0;
    for (const p of parts) {
      embeds.set(p, at);
      at += p.length;
    }
    skipped.sort((a, b) => a.index - b.index);
    return { embeds, kept, skipped };
  }

  /** Embeddings of already preprocessed pixels [n, 3, S, S] (normalized with the model's mean and std). */
  async embedPixels(pixels: Float32Array): Promise<Float32Array> {
    this.checkOpen();
    const m = this.loaded.model;
    if (m instanceof CLIP) return (await this.clip(m)).encodeImages(pixels);
    this.featureEncoder ??= ImageFeatureEncoder.create(m, {
      chunk: this.chunk,
      session: this.opts.session,
      weights: this.dtype,
    });
    return (await this.featureEncoder).encode(pixels);
  }

  /** Projected, unnormalized text embeddings [n, dim]; texts longer than the context are truncated. */
  async embedTexts(texts: readonly string[], label = "embed texts"): Promise<Float32Array> {
    this.checkOpen();
    const m = this.loaded.model;
    if (!(m instanceof CLIP) || !("tokenizer" in this.loaded))
      throw this.noTextTower("it cannot embed texts");
    const { tokenizer } = this.loaded;
    const encoders = await this.clip(m);
    const n = texts.length;
    const dim = this.dim;
    const out = new Float32Array(n * dim);
    const bar = this.bar(label, n, "texts");
    for (let start = 0; start < n; start += encoders.chunk) {
      const part = texts.slice(start, start + encoders.chunk);
      const ids = tokenizer.encodeBatch(part, m.cfg.text.contextLength);
      out.set(await encoders.encodeTexts(ids), start * dim);
      bar?.tick(part.length);
    }
    bar?.done();
    return out;
  }

  /** Release the compiled sessions; the handle cannot embed afterwards. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const clip = this.clipEncoders;
    const features = this.featureEncoder;
    this.clipEncoders = undefined;
    this.featureEncoder = undefined;
    await (await clip)?.release();
    await (await features)?.release();
  }

  private clip(model: CLIP): Promise<ClipEncoders> {
    // ClipEncoders compiles each of its graphs on first use, so creating it costs nothing.
    this.clipEncoders ??= ClipEncoders.create(model, {
      chunk: this.chunk,
      session: this.opts.session,
      weights: this.dtype,
    });
    return this.clipEncoders;
  }

  private checkOpen(): void {
    if (this.disposed) throw new Error(`${this.name}: the model handle was disposed`);
  }

  private bar(label: string, total: number, unit: string): Progress | undefined {
    if (!this.opts.progress || total < PROGRESS_MIN) return undefined;
    return new Progress({ label, total, unit, stream: this.opts.progress });
  }

  /**
   * Decode and preprocess refs[start..end) into one pixel block. Without `skipped` an unreadable image is
   * a UserError; with it, the image is recorded there and the block holds only the images in `kept`.
   */
  private async pixelsOf(
    refs: readonly ImageRef[],
    start: number,
    end: number,
    skipped?: { index: number; reason: string }[],
  ): Promise<{ pixels: Float32Array; kept: number[] }> {
    const { imageSize: size, mean, std } = this.preprocess;
    const norm: Normalization = { mean, std };
    const plane = 3 * size * size;
    const out = new Float32Array((end - start) * plane);
    const ok = new Array<boolean>(end - start).fill(false);
    let next = start;
    // Several decodes in flight: sharp decodes off the main thread while the resize runs here.
    const lane = async (): Promise<void> => {
      while (next < end) {
        const i = next++;
        const r = await decodeImage(refs[i] as ImageRef);
        if (!r.ok) {
          if (!skipped) throw new UserError(`cannot embed image ${i + 1} of ${refs.length}: ${r.reason}`);
          skipped.push({ index: i, reason: r.reason });
          continue;
        }
        preprocessInto(r.image, size, norm, out, i - start, this.preprocess.resize);
        ok[i - start] = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, end - start) }, lane));
    const kept: number[] = [];
    for (let j = 0; j < ok.length; j++) if (ok[j]) kept.push(start + j);
    if (kept.length === end - start) return { pixels: out, kept };
    // Close the gaps the skipped images left, keeping order.
    for (const [slot, i] of kept.entries())
      if (slot !== i - start) out.copyWithin(slot * plane, (i - start) * plane, (i - start + 1) * plane);
    return { pixels: out.slice(0, kept.length * plane), kept };
  }
}

/**
 * Run `use` with a handle: `model` itself when it is one (its sessions stay open for later calls), or a
 * handle made for a model in memory (e.g. one being trained), disposed when `use` is done.
 */
export async function withHandle<T>(
  model: ModelHandle | HandleModel,
  opts: HandleOptions,
  use: (handle: ModelHandle) => Promise<T>,
): Promise<T> {
  if (model instanceof ModelHandle) return use(model);
  const handle = new ModelHandle(model, opts);
  try {
    return await use(handle);
  } finally {
    await handle.dispose();
  }
}
