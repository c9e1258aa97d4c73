/**
 * `openModel(source)`: the one way to open a model for use. The source is a folder (a Juxta run of any
 * family, a Hugging Face CLIPModel folder or an OpenCLIP folder) or a Hub name (`hf:org/name[@revision]`);
 * `resolveSource` is the single place where a source becomes a local folder.
 */
import { resolveModelSource } from "../hub/index.js";
import { loadModel } from "../pretrained/open.js";
import { type HandleOptions, ModelHandle } from "./model.js";

export interface OpenModelOptions extends HandleOptions {
  /** A tokenizer file or folder to use instead of the model's own (models with a text tower). */
  tokenizer?: string;
}

/** Open `source` and return its handle; nothing is compiled until the handle first embeds. */
export async function openModel(source: string, opts: OpenModelOptions = {}): Promise<ModelHandle> {
  const dir = await resolveSource(source, opts);
  const { tokenizer, ...handle } = opts;
  return new ModelHandle(loadModel(dir, { tokenizer }), handle);
}

/** The local folder a model source names (a Hub name is downloaded into the Hugging Face cache first). */
export function resolveSource(source: string, opts: HandleOptions = {}): Promise<string> {
  return resolveModelSource(source, { progress: opts.progress ?? false });
}
