/**
 * Embedding for the application layer: images (decoded and preprocessed with the model's own `preprocess`)
 * and texts (tokenized with the model's tokenizer at its context length) in chunks, through one compiled
 * ONNX session per tower. The next chunk of images is decoded while the current one runs, and long work
 * draws a progress line on stderr.
 */
import type { ImageRef } from "../data/types.js";
import type { Normalization } from "../image/augment.js";
import { decodeImage } from "../image/decode.js";
import { preprocessInto } from "../image/preprocess.js";
import { MAX_LOGIT_SCALE } from "../models/clip.js";
import { ClipEncoders, type Tower } from "../models/encoders.js";
import type { LoadedClip } from "../models/saved.js";
import { normalizeRow } from "../search/kernels.js";
import { UserError } from "../util/errors.js";
import { Progress, type ProgressStream } from "../util/progress.js";

/** What embedding needs from a model: a loaded folder, or a model being trained with its tokenizer. */
export type ClipLike = Pick<LoadedClip, "model" | "tokenizer" | "preprocess">;

export interface EmbedderOptions {
  towers?: Tower[];
  /** Draw progress lines on this stream (e.g. process.stderr); none when absent. */
  progress?: ProgressStream;
}

/** Preprocessed pixels held at once stay near this many floats (64 MB): large images embed in smaller chunks. */
const CHUNK_VALUES = 1 << 24;
const MAX_CHUNK = 256;
/** Below this many items no progress line is drawn: it would only flash by. */
const PROGRESS_MIN = 64;

export class Embedder {
  private constructor(
    readonly clip: ClipLike,
    private readonly encoders: ClipEncoders,
    private readonly progress: ProgressStream | undefined,
  ) {}

  static async create(clip: ClipLike, opts: EmbedderOptions = {}): Promise<Embedder> {
    const size = clip.preprocess.imageSize;
    const chunk = Math.max(1, Math.min(MAX_CHUNK, Math.floor(CHUNK_VALUES / (3 * size * size))));
    const encoders = await ClipEncoders.create(clip.model, { towers: opts.towers, chunk });
    return new Embedder(clip, encoders, opts.progress);
  }

  get dim(): number {
    return this.encoders.embedDim;
  }

  get contextLength(): number {
    return this.clip.model.cfg.text.contextLength;
  }

  /** Projected, unnormalized image embeddings [n, dim]; an unreadable image is a UserError naming it. */
  async embedImages(refs: readonly ImageRef[], label = "embed images"): Promise<Float32Array> {
    const n = refs.length;
    const out = new Float32Array(n * this.dim);
    const chunk = this.encoders.chunk;
    const bar = this.bar(label, n, "images");
    const load = (start: number) => {
      const p = this.preprocess(refs, start, Math.min(n, start + chunk));
      // Marked handled now: it may fail while the previous chunk is still encoding; it is awaited later.
      p.catch(() => undefined);
      return p;
    };
    let next = n > 0 ? load(0) : undefined;
    for (let start = 0; start < n; start += chunk) {
      const pixels = await (next as Promise<Float32Array>);
      next = start + chunk < n ? load(start + chunk) : undefined;
      out.set(await this.encoders.encodeImages(pixels), start * this.dim);
      bar?.tick(pixels.length / (3 * this.clip.preprocess.imageSize ** 2));
    }
    bar?.done();
    return out;
  }

  /** Embeddings of already preprocessed pixels [n, 3, S, S] (the parity entry point). */
  async embedPixels(pixels: Float32Array): Promise<Float32Array> {
    return this.encoders.encodeImages(pixels);
  }

  /** Projected, unnormalized text embeddings [n, dim]; texts longer than the context are truncated. */
  async embedTexts(texts: readonly string[], label = "embed texts"): Promise<Float32Array> {
    const n = texts.length;
    const out = new Float32Array(n * this.dim);
    const chunk = this.encoders.chunk;
    const bar = this.bar(label, n, "texts");
    for (let start = 0; start < n; start += chunk) {
      const part = texts.slice(start, start + chunk);
      const ids = this.clip.tokenizer.encodeBatch(part, this.contextLength);
      out.set(await this.encoders.encodeTexts(ids), start * this.dim);
      bar?.tick(part.length);
    }
    bar?.done();
    return out;
  }

  async release(): Promise<void> {
    await this.encoders.release();
  }

  private bar(label: string, total: number, unit: string): Progress | undefined {
    if (!this.progress || total < PROGRESS_MIN) return undefined;
    return new Progress({ label, total, unit, stream: this.progress });
  }

  /** Decode and preprocess refs[start..end) into one pixel block. */
  private async preprocess(refs: readonly ImageRef[], start: number, end: number): Promise<Float32Array> {
    const { imageSize: size, mean, std } = this.clip.preprocess;
    const norm: Normalization = { mean, std };
    const out = new Float32Array((end - start) * 3 * size * size);
    let next = start;
    // Several decodes in flight: sharp decodes off the main thread while the resize runs here.
    const lane = async (): Promise<void> => {
      while (next < end) {
        const i = next++;
        const r = await decodeImage(refs[i] as ImageRef);
        if (!r.ok) throw new UserError(`cannot embed image ${i + 1} of ${refs.length}: ${r.reason}`);
        preprocessInto(r.image, size, norm, out, i - start);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, end - start) }, lane));
    return out;
  }
}

/** L2-normalized copy of row-major vectors; a zero or non-finite row is an error naming `what`. */
export function normalizedRows(x: Float32Array, dim: number, what: string): Float32Array {
  const out = x.slice();
  for (let r = 0; r < out.length / dim; r++)
    if (!normalizeRow(out, r, dim)) throw new Error(`${what} ${r}: zero or non-finite embedding`);
  return out;
}

/** exp(logit_scale), clamped at 100 as in training. */
export function logitScale(clip: ClipLike): number {
  return Math.exp(Math.min(clip.model.logit_scale.data[0] as number, MAX_LOGIT_SCALE));
}
