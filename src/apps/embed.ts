/**
 * Embeddings to files, for every model family: images (a folder, list or data set), preprocessed pixels (a
 * `pixel_values` tensor in a .safetensors file, the parity entry point) and texts (one a line, or a JSON
 * list; models with a text tower) in; projected, unnormalized float32 embeddings out (an image-only
 * encoder's are its backbone features, before the projection head), as .safetensors (`image_embeds`, `text_embeds`, with ids and texts
 * in the metadata) or as .npy (one array; its ids in a `<name>.ids.json` file beside it).
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { type ImageItem, isShardSet, listImages, streamImages } from "../data/image-set.js";
import type { DatasetOptions } from "../data/options.js";
import type { SkipLog } from "../data/types.js";
import { type HandleModel, type ModelHandle, withHandle } from "../handle/model.js";
import { NpyRowWriter, writeNpy } from "../io/npy.js";
import {
  readSafetensors,
  type SafetensorsInput,
  type SafetensorsSpec,
  safetensorsHead,
  writeSafetensors,
} from "../io/safetensors.js";
import { inputError, jsonErrorMessage, OptionError, UserError } from "../util/errors.js";
import { AtomicFile, writeJsonAtomic } from "../util/fs.js";
import { Progress, type ProgressStream } from "../util/progress.js";

export interface EmbedInputs {
  /** Images: a folder, an image, a .txt list of paths, or a data set. */
  images?: string;
  /** A .safetensors file holding `pixel_values` [n, 3, S, S], already preprocessed. */
  pixels?: string;
  /** Texts: a .txt file (one a line) or a .json list of strings (or {"texts": [...]}). */
  texts?: string;
  dataset?: DatasetOptions;
  log?: SkipLog;
}

export interface Embeddings {
  dim: number;
  /** Row-major [n, dim] image embeddings and the id of each row (path, or `pixel_values[i]`). */
  image?: { embeds: Float32Array; ids: string[] };
  text?: { embeds: Float32Array; texts: string[] };
}

export async function embedInputs(
  model: ModelHandle | HandleModel,
  inputs: EmbedInputs,
  opts: { progress?: ProgressStream } = {},
): Promise<Embeddings> {
  if (inputs.images !== undefined && inputs.pixels !== undefined)
    throw new UserError("give images either as `images` or as `pixels`, not both");
  const wantImages = inputs.images !== undefined || inputs.pixels !== undefined;
  if (!wantImages && inputs.texts === undefined)
    throw new UserError("nothing to embed: give images (a file or folder), pixels (.safetensors) or texts");
  return withHandle(model, { progress: opts.progress }, async (handle) => {
    if (inputs.texts !== undefined && !handle.hasText) throw handle.noTextTower("it cannot embed texts");
    // Inputs are read and checked before anything is compiled, so a bad file fails fast.
    const pixels = inputs.pixels === undefined ? undefined : readPixels(inputs.pixels, handle.imageSize);
    // Shards are streamed (memory does not grow with them); other image sets are listed first.
    const streamed = inputs.images !== undefined && isShardSet(inputs.images, inputs.dataset);
    const images =
      inputs.images === undefined || streamed
        ? undefined
        : await listImages(inputs.images, { dataset: inputs.dataset, log: inputs.log });
    const texts = inputs.texts === undefined ? undefined : readTexts(inputs.texts);
    const out: Embeddings = { dim: handle.dim };
    if (pixels)
      out.image = {
        embeds: await handle.embedPixels(pixels.data),
        ids: Array.from({ length: pixels.n }, (_, i) => `pixel_values[${i}]`),
      };
    if (images) {
      // An unreadable image is skipped and counted in the log (fatal under --strict), as README says.
      const r = await handle.embedImagesSkipping(images.map((im) => im.ref));
      for (const s of r.skipped) inputs.log?.add({ file: images[s.index]!.id }, s.reason);
      if ((!inputs.log || r.kept.length === 0) && r.skipped.length > 0)
        throw new UserError(
          `cannot embed ${images[r.skipped[0]!.index]!.id}: ${r.skipped[0]!.reason}` +
            (r.kept.length === 0 ? ` (no image of ${images.length} could be embedded)` : ""),
        );
      out.image = { embeds: r.embeds, ids: r.kept.map((i) => images[i]!.id) };
    }
    if (streamed) {
      const parts: Float32Array[] = [];
      const ids: string[] = [];
      await embedStream(handle, inputs, opts.progress, (embeds, blockIds) => {
        parts.push(embeds);
        ids.push(...blockIds);
      });
      const embeds = new Float32Array(ids.length * handle.dim);
      let at = 0;
      for (const p of parts) {
        embeds.set(p, at);
        at += p.length;
      }
      out.image = { embeds, ids };
    }
    if (texts) out.text = { embeds: await handle.embedTexts(texts), texts };
    return out;
  });
}

/** Images per block of a streamed embedding: held (as encoded bytes) while their block is embedded. */
const STREAM_BLOCK = 1024;

/**
 * Embed the streamed images of `inputs` block by block, handing each block's rows and ids to `sink`;
 * unreadable ones are skipped as embedInputs skips them. Returns the images embedded.
 */
async function embedStream(
  handle: ModelHandle,
  inputs: EmbedInputs,
  progress: ProgressStream | undefined,
  sink: (embeds: Float32Array, ids: string[]) => void,
): Promise<number> {
  const log = inputs.log;
  const items = streamImages(inputs.images as string, { dataset: inputs.dataset, log });
  const bar = progress
    ? new Progress({ label: "embed images", unit: "images", stream: progress })
    : undefined;
  let block: ImageItem[] = [];
  let seen = 0;
  let kept = 0;
  const flush = async () => {
    const r = await handle.embedImagesSkipping(
      block.map((im) => im.ref),
      "embed images",
      true,
    );
    for (const s of r.skipped) {
      if (!log) throw new UserError(`cannot embed ${block[s.index]!.id}: ${s.reason}`);
      log.add({ file: block[s.index]!.id }, s.reason);
    }
    if (r.kept.length > 0)
      sink(
        r.embeds,
        r.kept.map((i) => block[i]!.id),
      );
    kept += r.kept.length;
    bar?.tick(block.length);
    block = [];
  };
  try {
    for await (const item of items) {
      block.push(item);
      seen++;
      if (block.length === STREAM_BLOCK) await flush();
    }
    if (block.length > 0) await flush();
  } finally {
    bar?.done();
  }
  if (kept === 0) throw new UserError(`no image of ${seen} could be embedded`);
  return kept;
}

/**
 * `embedInputs` then `writeEmbeddings`, except that streamed images (WebDataset shards) go to the file
 * as they are embedded, so memory does not grow with them: to .npy the rows and the ids both stream; to
 * .safetensors the rows stream to a temporary file and the ids wait for the header, which holds them.
 */
export async function embedToFile(
  model: ModelHandle | HandleModel,
  inputs: EmbedInputs,
  file: string,
  meta: { model: string },
  opts: { progress?: ProgressStream } = {},
): Promise<{ dim: number; images: number; texts: number }> {
  const ext = extname(file).toLowerCase();
  if (ext !== ".npy" && ext !== ".safetensors")
    throw new UserError(`${file}: the output must end in .safetensors or .npy`);
  const streamed =
    inputs.images !== undefined && inputs.pixels === undefined && isShardSet(inputs.images, inputs.dataset);
  if (!streamed) {
    const emb = await embedInputs(model, inputs, opts);
    writeEmbeddings(file, emb, meta);
    return { dim: emb.dim, images: emb.image?.ids.length ?? 0, texts: emb.text?.texts.length ?? 0 };
  }
  if (ext === ".npy" && inputs.texts !== undefined)
    throw new UserError(
      `${file}: an .npy file holds one array; write image and text embeddings to a .safetensors file`,
    );
  return withHandle(model, { progress: opts.progress }, async (handle) => {
    if (inputs.texts !== undefined && !handle.hasText) throw handle.noTextTower("it cannot embed texts");
    const texts = inputs.texts === undefined ? undefined : readTexts(inputs.texts);
    const writer: EmbeddingFileWriter =
      ext === ".npy" ? new NpyEmbeddingWriter(file, handle.dim) : new SafetensorsEmbeddingWriter(file);
    try {
      const images = await embedStream(handle, inputs, opts.progress, (e, ids) => writer.add(e, ids));
      const text = texts ? { embeds: await handle.embedTexts(texts), texts } : undefined;
      writer.finish(handle.dim, meta, text);
      return { dim: handle.dim, images, texts: texts?.length ?? 0 };
    } catch (e) {
      writer.abort();
      throw e;
    }
  });
}

/** Where `embedToFile` puts streamed image embeddings: blocks as they come, then the file in place. */
interface EmbeddingFileWriter {
  add(embeds: Float32Array, ids: string[]): void;
  finish(dim: number, meta: { model: string }, text?: { embeds: Float32Array; texts: string[] }): void;
  abort(): void;
}

/** Streamed image embeddings to .npy: rows into the array, ids into `<name>.ids.json` as they come. */
class NpyEmbeddingWriter implements EmbeddingFileWriter {
  private readonly rows: NpyRowWriter;
  private readonly ids: AtomicFile;
  private count = 0;

  constructor(file: string, dim: number) {
    this.rows = new NpyRowWriter(file, dim);
    this.ids = AtomicFile.create(idsFile(file));
  }

  add(embeds: Float32Array, ids: string[]): void {
    this.rows.append(embeds);
    // The format writeJsonAtomic gives a list: one element a line, indented by two.
    const lines = ids.map((id, i) => `${this.count + i === 0 ? "[\n" : ",\n"}  ${JSON.stringify(id)}`);
    this.ids.write(Buffer.from(lines.join(""), "utf8"));
    this.count += ids.length;
  }

  finish(): void {
    this.ids.write(Buffer.from(this.count === 0 ? "[]\n" : "\n]\n", "utf8"));
    this.rows.finish();
    this.ids.commit();
  }

  abort(): void {
    this.rows.abort();
    this.ids.abort();
  }
}

/** Streamed image embeddings to .safetensors: rows to a temporary file, copied in after the header. */
class SafetensorsEmbeddingWriter implements EmbeddingFileWriter {
  private readonly rows: AtomicFile;
  private readonly ids: string[] = [];

  constructor(private readonly file: string) {
    this.rows = AtomicFile.create(`${file}.rows`);
  }

  add(embeds: Float32Array, ids: string[]): void {
    this.rows.write(new Uint8Array(embeds.buffer, embeds.byteOffset, embeds.byteLength));
    for (const id of ids) this.ids.push(id);
  }

  finish(dim: number, meta: { model: string }, text?: { embeds: Float32Array; texts: string[] }): void {
    const metadata: Record<string, string> = { model: meta.model, image_ids: JSON.stringify(this.ids) };
    const specs: Record<string, SafetensorsSpec> = {
      image_embeds: { dtype: "F32", shape: [this.ids.length, dim], byteLength: this.rows.size },
    };
    if (text) {
      specs.text_embeds = {
        dtype: "F32",
        shape: [text.texts.length, dim],
        byteLength: text.embeds.byteLength,
      };
      metadata.texts = JSON.stringify(text.texts);
    }
    const { head, order } = safetensorsHead(specs, metadata, this.file);
    const out = AtomicFile.create(this.file);
    try {
      for (const chunk of head) out.write(chunk);
      for (const name of order) {
        if (name === "text_embeds" && text)
          out.write(new Uint8Array(text.embeds.buffer, text.embeds.byteOffset, text.embeds.byteLength));
        else
          for (let at = 0; at < this.rows.size; at += COPY_BYTES)
            out.write(this.rows.readAt(at, Math.min(COPY_BYTES, this.rows.size - at)));
      }
    } catch (e) {
      out.abort();
      throw e;
    }
    out.commit();
    this.rows.abort();
  }

  abort(): void {
    this.rows.abort();
  }
}

/** Bytes a copy of the streamed rows reads at a time. */
const COPY_BYTES = 8 << 20;

/** Write embeddings as .safetensors or .npy, chosen by the extension of `file`. */
export function writeEmbeddings(file: string, emb: Embeddings, meta: { model: string }): void {
  const ext = extname(file).toLowerCase();
  const { dim } = emb;
  if (ext === ".safetensors") {
    const tensors: Record<string, SafetensorsInput> = {};
    const metadata: Record<string, string> = { model: meta.model };
    if (emb.image) {
      tensors.image_embeds = { dtype: "F32", shape: [emb.image.ids.length, dim], data: emb.image.embeds };
      metadata.image_ids = JSON.stringify(emb.image.ids);
    }
    if (emb.text) {
      tensors.text_embeds = { dtype: "F32", shape: [emb.text.texts.length, dim], data: emb.text.embeds };
      metadata.texts = JSON.stringify(emb.text.texts);
    }
    writeSafetensors(file, tensors, metadata);
    return;
  }
  if (ext === ".npy") {
    if (emb.image && emb.text)
      throw new UserError(
        `${file}: an .npy file holds one array; write image and text embeddings to a .safetensors file`,
      );
    const rows = emb.image ? emb.image.ids : (emb.text?.texts ?? []);
    const data = emb.image?.embeds ?? emb.text?.embeds ?? new Float32Array(0);
    writeNpy(file, data, [rows.length, dim]);
    writeJsonAtomic(idsFile(file), rows);
    return;
  }
  throw new UserError(`${file}: the output must end in .safetensors or .npy`);
}

/** Where the row ids of an .npy embedding file go: `emb.npy` → `emb.ids.json`. */
export function idsFile(npyFile: string): string {
  return `${npyFile.slice(0, -extname(npyFile).length)}.ids.json`;
}

/** `pixel_values` [n, 3, size, size] from a .safetensors file, as float32. */
export function readPixels(file: string, size: number): { data: Float32Array; n: number } {
  if (extname(file).toLowerCase() !== ".safetensors")
    throw new OptionError(`${file}: {pixels} expects a .safetensors file holding a 'pixel_values' tensor`);
  const t = readSafetensors(file).tensors.get("pixel_values");
  if (!t) throw inputError({ file, field: "pixel_values" }, "missing; expected a float tensor [n, 3, S, S]");
  const [n, c, h, w] = t.shape;
  if (t.shape.length !== 4 || c !== 3 || h !== size || w !== size)
    throw inputError(
      { file, field: "pixel_values" },
      `shape [${t.shape}], expected [n, 3, ${size}, ${size}] for this model's ${size}-pixel input`,
    );
  if (t.dtype === "F32") return { data: t.data, n: n as number };
  if (t.dtype === "F64") return { data: Float32Array.from(t.data), n: n as number };
  throw inputError({ file, field: "pixel_values" }, `dtype ${t.dtype}, expected a float type`);
}

/** Texts from a .json list (or {"texts": [...]}) or a text file with one a line (blank lines skipped). */
export function readTexts(file: string): string[] {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`${file}: cannot read texts (${(e as Error).message})`);
  }
  let texts: unknown;
  if (extname(file).toLowerCase() === ".json") {
    try {
      texts = JSON.parse(raw);
    } catch (e) {
      throw new UserError(`${file}: not valid JSON (${jsonErrorMessage(e)})`);
    }
    if (texts !== null && typeof texts === "object" && !Array.isArray(texts))
      texts = (texts as { texts?: unknown }).texts;
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === "string"))
      throw inputError({ file }, 'expected a JSON list of strings or {"texts": [...]}');
  } else texts = raw.split(/\r?\n/).filter((line) => line.trim() !== "");
  if ((texts as string[]).length === 0) throw new UserError(`${file}: no texts in this file`);
  return texts as string[];
}
