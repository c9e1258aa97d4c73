/**
 * Inference graphs for a CLIP model's two towers: pixels → image embeddings and token ids → text embeddings
 * (projected, not normalized), with a symbolic batch dimension and the weights baked in, each one ONNX
 * Runtime session. Inputs are encoded in chunks so that memory stays bounded on large sets.
 */
import { compile, input, Session, type SessionOptions } from "../engine/index.js";
import { bind, stateDict } from "../nn/module.js";
import type { CLIP } from "./clip.js";

export type Tower = "image" | "text";

export interface EncoderOptions {
  towers?: Tower[];
  /** Rows per ONNX Runtime run (default 128). */
  chunk?: number;
  session?: SessionOptions;
}

export class ClipEncoders {
  private constructor(
    readonly model: CLIP,
    private readonly image: Session | undefined,
    private readonly text: Session | undefined,
    readonly chunk: number,
  ) {}

  static async create(model: CLIP, opts: EncoderOptions = {}): Promise<ClipEncoders> {
    const towers = opts.towers ?? ["image", "text"];
    model.eval();
    bind(model);
    const weights = stateDict(model);
    const { imageSize } = model.cfg.vision;
    let image: Session | undefined;
    let text: Session | undefined;
    if (towers.includes("image")) {
      const pixels = input("pixel_values", ["batch", 3, imageSize, imageSize]);
      const graph = compile({ image_embeds: model.encodeImage(pixels) }, { freeze: weights, name: "vision" });
      image = await Session.create(graph, opts.session);
    }
    if (towers.includes("text")) {
      const ids = input("input_ids", ["batch", model.cfg.text.contextLength], "int32");
      const graph = compile({ text_embeds: model.encodeText(ids) }, { freeze: weights, name: "text" });
      text = await Session.create(graph, opts.session);
    }
    return new ClipEncoders(model, image, text, opts.chunk ?? 128);
  }

  get embedDim(): number {
    return this.model.cfg.embedDim;
  }

  /** Normalized pixels [n, 3, S, S] → embeddings [n, embedDim]. */
  async encodeImages(pixels: Float32Array): Promise<Float32Array> {
    const s = this.model.cfg.vision.imageSize;
    return this.encode(this.image, "image", "pixel_values", pixels, 3 * s * s, "image_embeds");
  }

  /** Token ids [n, context] → embeddings [n, embedDim]. */
  async encodeTexts(ids: Int32Array): Promise<Float32Array> {
    return this.encode(this.text, "text", "input_ids", ids, this.model.cfg.text.contextLength, "text_embeds");
  }

  private async encode(
    session: Session | undefined,
    tower: Tower,
    inputName: string,
    data: Float32Array | Int32Array,
    rowSize: number,
    outputName: string,
  ): Promise<Float32Array> {
    if (!session) throw new Error(`the ${tower} tower was not compiled (towers option)`);
    if (data.length % rowSize !== 0)
      throw new Error(`${inputName}: length ${data.length} is not a multiple of the row size ${rowSize}`);
    const n = data.length / rowSize;
    const d = this.embedDim;
    const out = new Float32Array(n * d);
    for (let start = 0; start < n; start += this.chunk) {
      const rows = Math.min(this.chunk, n - start);
      const slice = data.subarray(start * rowSize, (start + rows) * rowSize);
      const res = await session.run({
        [inputName]: { data: slice, dims: [rows, ...dimsOf(rowSize, tower, this)] },
      });
      out.set(res[outputName]!.data as Float32Array, start * d);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.image?.release();
    await this.text?.release();
  }
}

function dimsOf(rowSize: number, tower: Tower, enc: ClipEncoders): number[] {
  if (tower === "text") return [rowSize];
  const s = enc.model.cfg.vision.imageSize;
  return [3, s, s];
}
