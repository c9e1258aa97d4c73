/**
 * Model configs checked before anything is allocated (issue 11, case 11): every size a whole number under a
 * sane bound, heads dividing the width, the patch dividing the image, the whole model under
 * MAX_PARAMETERS; then the shapes the config implies against the weights file's header (names and shapes,
 * read without the tensor data), so a config that does not describe its weights is one line naming the
 * file, the field and what was expected, and not a RangeError, an uncaught Error or gigabytes of zeros.
 *
 * Readers name fields in their file's own terms through `FieldNames` (a Hugging Face config.json says
 * `vision_config.hidden_size` where Juxta's config says `vision.width`).
 */
import { readSafetensorsHeader, type SafetensorsHeader } from "../io/safetensors.js";
import type { Activation } from "../nn/functional.js";
import { type Module, shapesOnly } from "../nn/module.js";
import { UserError } from "../util/errors.js";
import type { ClipConfig } from "./clip.js";
import type { ImageEncoderConfig } from "./image-encoder.js";

/** Upper bounds on single sizes: far above any published model, far below what breaks allocation. */
export const LIMITS = {
  width: 1 << 16,
  layers: 1024,
  heads: 1024,
  imageSize: 8192,
  vocabSize: 1 << 22,
  contextLength: 1 << 16,
  embedDim: 1 << 16,
  mlpWidth: 1 << 20,
  stages: 16,
  blocks: 1024,
} as const;

/** Parameters a model may have in all (16 GiB of float32; ViT-bigG/14 has 2.5 billion). */
export const MAX_PARAMETERS = 2 ** 32;

const ACTIVATIONS: readonly Activation[] = ["gelu", "gelu_tanh", "quick_gelu", "relu"];

/** Juxta's name of a config field (`vision.width`) → the field as the file spells it. */
export type FieldNames = (path: string) => string;

type Json = Record<string, unknown>;

class Checker {
  constructor(
    readonly source: string,
    readonly field: FieldNames,
  ) {}

  fail(path: string, value: unknown, expected: string): never {
    throw new UserError(
      `${this.source}: field '${this.field(path)}' is ${describe(value)}; expected ${expected}`,
    );
  }

  object(value: unknown, path: string): Json {
    if (typeof value !== "object" || value === null || Array.isArray(value))
      this.fail(path, value, "an object");
    return value as Json;
  }

  /** A whole number from `min` to `max`. */
  int(obj: Json, key: string, path: string, max: number, min = 1): number {
    const v = obj[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      this.fail(path, v, `a whole number from ${min} to ${max.toLocaleString("en")}`);
    return v;
  }

  finite(obj: Json, key: string, path: string, positive = false): number {
    const v = obj[key];
    if (typeof v !== "number" || !Number.isFinite(v) || (positive && !(v > 0)))
      this.fail(path, v, positive ? "a positive number" : "a finite number");
    return v;
  }

  /** A ViT or the text tower's Transformer: width, layers, heads dividing the width, MLP, activation, eps. */
  transformer(obj: Json, at: string): void {
    const width = this.int(obj, "width", `${at}.width`, LIMITS.width);
    this.int(obj, "layers", `${at}.layers`, LIMITS.layers);
    const heads = this.int(obj, "heads", `${at}.heads`, LIMITS.heads);
    if (width % heads !== 0) this.fail(`${at}.heads`, heads, `a divisor of the width ${width}`);
    const ratio = this.finite(obj, "mlpRatio", `${at}.mlpRatio`, true);
    const mlp = Math.round(width * ratio);
    if (!(mlp >= 1 && mlp <= LIMITS.mlpWidth))
      this.fail(
        `${at}.mlpRatio`,
        ratio,
        `an MLP width (width × ratio) from 1 to ${LIMITS.mlpWidth}, got ${mlp}`,
      );
    if (!ACTIVATIONS.includes(obj.act as Activation))
      this.fail(`${at}.act`, obj.act, `one of ${ACTIVATIONS.join(", ")}`);
    const eps = this.finite(obj, "lnEps", `${at}.lnEps`, true);
    if (eps >= 1) this.fail(`${at}.lnEps`, eps, "a small positive number (below 1)");
  }

  vit(obj: Json, at: string): void {
    const size = this.int(obj, "imageSize", `${at}.imageSize`, LIMITS.imageSize);
    const patch = this.int(obj, "patchSize", `${at}.patchSize`, size);
    if (size % patch !== 0) this.fail(`${at}.patchSize`, patch, `a divisor of the image size ${size}`);
    this.transformer(obj, at);
  }

  resnet(obj: Json, at: string): void {
    const size = this.int(obj, "imageSize", `${at}.imageSize`, LIMITS.imageSize);
    this.int(obj, "stemStride", `${at}.stemStride`, size);
    const list = (key: "widths" | "blocks", max: number) => {
      const v = obj[key];
      if (!Array.isArray(v) || v.length === 0 || v.length > LIMITS.stages)
        this.fail(`${at}.${key}`, v, `a list of 1 to ${LIMITS.stages} whole numbers`);
      for (let i = 0; i < v.length; i++) this.int(v as unknown as Json, String(i), `${at}.${key}[${i}]`, max);
      return v.length;
    };
    if (list("widths", LIMITS.width) !== list("blocks", LIMITS.blocks))
      this.fail(`${at}.blocks`, obj.blocks, `one entry per stage, as many as ${at}.widths has`);
  }

  vision(value: unknown, at: string, embedDim: boolean): void {
    const v = this.object(value, at);
    // SigLIP's image tower (a ViT without class token, with a pooling head) has a ViT's sizes.
    if (v.type === "vit" || v.type === "siglip") this.vit(v, at);
    else if (v.type === "resnet") this.resnet(v, at);
    else this.fail(`${at}.type`, v.type, '"vit", "siglip" or "resnet"');
    if (embedDim && v.type === "vit") this.int(v, "embedDim", `${at}.embedDim`, LIMITS.embedDim);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Check a CLIP/SigLIP config (as `new CLIP` takes it); `source` and `field` name the file and its fields. */
export function checkClipConfig(
  cfg: unknown,
  source: string,
  field: FieldNames = (p) => p || "config",
): asserts cfg is ClipConfig {
  const c = new Checker(source, field);
  const o = c.object(cfg, "");
  c.int(o, "embedDim", "embedDim", LIMITS.embedDim);
  c.vision(o.vision, "vision", false);
  const text = c.object(o.text, "text");
  c.int(text, "vocabSize", "text.vocabSize", LIMITS.vocabSize);
  c.int(text, "contextLength", "text.contextLength", LIMITS.contextLength);
  c.transformer(text, "text");
  if (o.initLogitScale !== undefined) c.finite(o, "initLogitScale", "initLogitScale");
  if (o.initLogitBias !== undefined) c.finite(o, "initLogitBias", "initLogitBias");
}

/** Check an image encoder's config (a ResNet or ViT backbone and the projection head). */
export function checkImageEncoderConfig(
  cfg: unknown,
  source: string,
  field: FieldNames = (p) => p || "config",
): asserts cfg is ImageEncoderConfig {
  const c = new Checker(source, field);
  const o = c.object(cfg, "");
  c.vision(o.backbone, "backbone", true);
  const head = c.object(o.head, "head");
  c.int(head, "hidden", "head.hidden", LIMITS.width);
  c.int(head, "out", "head.out", LIMITS.embedDim);
}

/** Name → shape of every parameter and buffer `build` would allocate, found without allocating them. */
export function plannedShapes(build: () => Module, source: string): Map<string, readonly number[]> {
  const skeleton = shapesOnly(build);
  const shapes = new Map<string, readonly number[]>();
  let total = 0;
  for (const t of [...skeleton.parameters(), ...skeleton.buffers()]) {
    shapes.set(t.name, t.shape);
    total += t.shape.reduce((a, b) => a * b, 1);
  }
  if (total > MAX_PARAMETERS)
    throw new UserError(
      `${source}: the config describes ${total.toLocaleString("en")} weights (${(total / 2 ** 28).toFixed(1)} GiB of float32); the limit is ${MAX_PARAMETERS.toLocaleString("en")}`,
    );
  return shapes;
}

/**
 * Every planned tensor present in the weights file's header with its exact shape and a float dtype, and
 * nothing the model does not have (the checks `loadWeights` makes, before the model or the data exist).
 * `header` is in Juxta's names (a reader renames its file's first).
 */
export function checkHeader(
  planned: ReadonlyMap<string, readonly number[]>,
  header: SafetensorsHeader,
  weightsFile: string,
): void {
  for (const [name, shape] of planned) {
    const t = header.get(name);
    if (!t)
      throw new UserError(
        `${weightsFile}: tensor '${name}' is missing (shape [${shape.join(", ")}] expected)`,
      );
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new UserError(
        `${weightsFile}: tensor '${name}' has shape [${t.shape.join(", ")}], the model's config needs [${shape.join(", ")}]`,
      );
    if (!["F32", "F64", "F16", "BF16"].includes(t.dtype))
      throw new UserError(`${weightsFile}: tensor '${name}' has dtype ${t.dtype}, expected a float type`);
  }
  const extra = [...header.keys()].filter((k) => !planned.has(k));
  if (extra.length > 0)
    throw new UserError(
      `${weightsFile}: ${extra.length} tensor(s) the model does not have: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}`,
    );
}

/**
 * Build a model only after its config has been checked against its weights file: the shapes `build`
 * would allocate (found without allocating) against the file's header (read without its data), renamed
 * to Juxta's names by `rename`.
 */
export function buildForWeights<M extends Module>(
  build: () => M,
  weightsFile: string,
  rename: (header: SafetensorsHeader) => SafetensorsHeader = (h) => h,
  source = weightsFile,
): M {
  const planned = plannedShapes(build, source);
  checkHeader(planned, rename(readSafetensorsHeader(weightsFile)), weightsFile);
  return build();
}
