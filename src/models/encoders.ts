/**
 * Inference graphs for a CLIP model's two towers: pixels → image embeddings and token ids → text embeddings
 * (projected, not normalized), with a symbolic batch dimension and the weights baked in, each one ONNX
 * Runtime session. Inputs are encoded in chunks so that memory stays bounded on large sets.
 *
 * CLIP's texts skip their padding: its text tower is causal and pools at the end-of-text token, so positions
 * after it never reach the embedding (SigLIP's is bidirectional and pools the last position, so it always
 * runs the whole context). Rows are taken shortest first and each chunk runs through a graph compiled
 * for the shortest of a few lengths (a quarter, half or all of the context) that holds its longest caption;
 * emoji captions (median 11 of 32 tokens) encode ~1.7× faster (1,094 vs 631 texts/s), bitwise the same in
 * fp32. In q8 not bitwise: the activations' int8 range is chosen per tensor, over every position run
 * (padding included), so trimming moves the numbers by about as much as batching does (docs/quantization.md).
 */
import { compile, input, Session, type SessionOptions, type WeightFormat } from "../engine/index.js";
import { bind, stateDict } from "../nn/module.js";
import type { CLIP } from "./clip.js";

export type Tower = "image" | "text";

export interface EncoderOptions {
  towers?: Tower[];
  /** Rows per ONNX Runtime run (default 128). */
  chunk?: number;
  session?: SessionOptions;
  /** How the compiled graphs hold the weights (default fp32): see engine/quantize.ts. */
  weights?: WeightFormat;
  /**
   * Run text chunks at a shorter length when their captions fit (default true). Each length used compiles
   * one more text graph (on first use, from the model's weights at that time), with its own copy of the
   * text tower's weights.
   */
  trimTexts?: boolean;
}

export class ClipEncoders {
  /** The image graph, compiled on first use. */
  private image?: Promise<Session>;
  /** Text graphs by sequence length, each compiled on first use. */
  private readonly texts = new Map<number, Promise<Session>>();
  private readonly towers: readonly Tower[];

  private constructor(
    readonly model: CLIP,
    readonly chunk: number,
    private readonly opts: EncoderOptions,
  ) {
    this.towers = opts.towers ?? ["image", "text"];
  }

  /**
   * Encoders for the towers named in `opts.towers` (default both). Each graph is compiled once, on its
   * first use, from the model's weights at that time.
   */
  static async create(model: CLIP, opts: EncoderOptions = {}): Promise<ClipEncoders> {
    return new ClipEncoders(model, opts.chunk ?? 128, opts);
  }

  get embedDim(): number {
    return this.model.cfg.embedDim;
  }

  /** Normalized pixels [n, 3, S, S] → embeddings [n, embedDim]. */
  async encodeImages(pixels: Float32Array): Promise<Float32Array> {
    if (!this.towers.includes("image")) throw new Error("the image tower was not compiled (towers option)");
    this.image ??= compileImage(this.model, this.opts);
    const session = await this.image;
    const s = this.model.cfg.vision.imageSize;
    const rowSize = 3 * s * s;
    if (pixels.length % rowSize !== 0)
      throw new Error(`pixel_values: length ${pixels.length} is not a multiple of the row size ${rowSize}`);
    const n = pixels.length / rowSize;
    const d = this.embedDim;
    const out = new Float32Array(n * d);
    for (let start = 0; start < n; start += this.chunk) {
      const rows = Math.min(this.chunk, n - start);
      const data = pixels.subarray(start * rowSize, (start + rows) * rowSize);
      const res = await session.run({ pixel_values: { data, dims: [rows, 3, s, s] } });
      out.set(res.image_embeds!.data as Float32Array, start * d);
    }
    return out;
  }

  /** Token ids [n, context] → embeddings [n, embedDim]. */
  async encodeTexts(ids: Int32Array): Promise<Float32Array> {
    const context = this.model.cfg.text.contextLength;
    if (!this.towers.includes("text")) throw new Error("the text tower was not compiled (towers option)");
    if (ids.length % context !== 0)
      throw new Error(`input_ids: length ${ids.length} is not a multiple of the context length ${context}`);
    const n = ids.length / context;
    const trim = this.opts.trimTexts !== false && this.model.text.trimsPadding;
    const lengths = trim ? textLengths(context) : [context];
    // Shortest captions first, so that each chunk runs at the length its longest one needs.
    const used = Array.from({ length: n }, (_, r) => endOfText(ids, r * context, context) + 1);
    const order = Array.from({ length: n }, (_, r) => r).sort(
      (a, b) => (used[a] as number) - (used[b] as number),
    );
    const d = this.embedDim;
    const out = new Float32Array(n * d);
    for (let start = 0; start < n; start += this.chunk) {
      const rows = order.slice(start, start + this.chunk);
      const longest = used[rows[rows.length - 1] as number] as number;
      const t = lengths.find((l) => l >= longest) ?? context;
      const chunk = new Int32Array(rows.length * t);
      rows.forEach((r, i) => {
        chunk.set(ids.subarray(r * context, r * context + t), i * t);
      });
      const res = await (await this.textSession(t)).run({
        input_ids: { data: chunk, dims: [rows.length, t] },
      });
      const embeds = res.text_embeds!.data as Float32Array;
      rows.forEach((r, i) => {
        out.set(embeds.subarray(i * d, (i + 1) * d), r * d);
      });
    }
    return out;
  }

  /** The sequence lengths whose text graphs are compiled so far (shortest first). */
  get textLengthsCompiled(): number[] {
    return [...this.texts.keys()].sort((a, b) => a - b);
  }

  private textSession(length: number): Promise<Session> {
    let session = this.texts.get(length);
    if (!session) {
      session = compileText(this.model, length, this.opts);
      this.texts.set(length, session);
    }
    return session;
  }

  async release(): Promise<void> {
    const image = this.image;
    this.image = undefined;
    await (await image)?.release();
    for (const session of this.texts.values()) await (await session).release();
    this.texts.clear();
  }
}

/** The image graph, with the model's weights as they are now. */
function compileImage(model: CLIP, opts: EncoderOptions): Promise<Session> {
  const training = model.training;
  model.eval();
  bind(model);
  const { imageSize } = model.cfg.vision;
  const pixels = input("pixel_values", ["batch", 3, imageSize, imageSize]);
  const graph = compile(
    { image_embeds: model.encodeImage(pixels) },
    { freeze: stateDict(model), name: "vision", weights: opts.weights },
  );
  if (training) model.train();
  return Session.create(graph, opts.session);
}

/** A text graph for sequences of `length` tokens, with the model's weights as they are now. */
function compileText(model: CLIP, length: number, opts: EncoderOptions): Promise<Session> {
  const training = model.training;
  model.eval();
  bind(model);
  const ids = input("input_ids", ["batch", length], "int32");
  const graph = compile(
    { text_embeds: model.encodeText(ids) },
    { freeze: stateDict(model), name: "text", weights: opts.weights },
  );
  if (training) model.train();
  return Session.create(graph, opts.session);
}

/** Lengths a text chunk may run at: about a quarter and a half of the context (multiples of 8), and all. */
function textLengths(context: number): number[] {
  const round8 = (x: number) => Math.ceil(x / 8) * 8;
  return [...new Set([round8(context / 4), round8(context / 2), context])].filter((l) => l <= context);
}

/** The end-of-text position of one row: the first largest id, as the text tower pools (argmax). */
function endOfText(ids: Int32Array, offset: number, context: number): number {
  let best = 0;
  for (let j = 1; j < context; j++)
    if ((ids[offset + j] as number) > (ids[offset + best] as number)) best = j;
  return best;
}
