/**
 * The image-text family: a CLIP model trained on captioned images with a pair method's loss (clip,
 * siglip). Builds the trainee the loop drives: the model (the checkpoint's, pretrained weights, or fresh),
 * the tokenizer (the model's, a given one, or BPE trained on the captions), the data (cached or streamed), the
 * compiled step, and the held-out evaluation.
 */
import { join } from "node:path";
import type { SessionOptions, Tensor } from "../engine/index.js";
import { streamKey } from "../engine/random.js";
import { evaluateClip, evalValues, loadHeldOutSet } from "../eval/clip.js";
import { CLIP } from "../models/clip.js";
import { patchesKept, patchKeepIndices } from "../models/patch-dropout.js";
import { type PresetName, presetConfig } from "../models/presets.js";
import {
  checkTokenizer,
  clipFiles,
  defaultPreprocess,
  type LoadedClip,
  loadClip,
  MODEL_FILE,
  type Preprocess,
} from "../models/saved.js";
import { AccumStep } from "../nn/accum-step.js";
import type { Parameter } from "../nn/module.js";
import { TrainStep } from "../nn/train-step.js";
import { loadInit, lockedParams } from "../pretrained/init.js";
import type { TextTokenizer } from "../text/formats.js";
import { loadTokenizer, trainBpe } from "../text/index.js";
import { OptionError, UserError } from "../util/errors.js";
import { type DataSummary, openTrainingData } from "./data.js";
import type { PairMethod } from "./methods/index.js";
import type { PairSettings } from "./options.js";
import { snapshotBuffers, type Trainee, type TraineeContext } from "./trainee.js";

export interface PairStepOptions {
  batch: number;
  /**
   * Token positions per caption (default: the context length). Fewer are exact when every caption's
   * end-of-text token lies within them: the text tower is causal and pools there, so later positions never
   * reach the loss, and their gradients are zero either way.
   */
  textLength?: number;
  trainable?: (p: Parameter) => boolean;
  session?: SessionOptions;
  /**
   * Patch dropout's share (ViT image towers): the step then takes `keep`, the token rows each image keeps
   * (patchKeepIndices for this batch size, the tower's patch count and this share).
   */
  patchDropout?: number;
}

/** The step's data inputs for `b` pairs. */
function pairInputs(model: CLIP, b: number, textLength: number) {
  const { imageSize } = model.cfg.vision;
  return {
    images: { shape: [b, 3, imageSize, imageSize] },
    tokens: { shape: [b, textLength], dtype: "int32" as const },
  };
}

/** The patch tokens of `model`'s ViT image tower; patch dropout on any other tower is a UserError. */
export function vitPatches(model: CLIP): number {
  const v = model.cfg.vision;
  if (v.type !== "vit")
    throw new UserError(`patch dropout needs a ViT image tower; this model's is ${v.type ?? "a ResNet"}`);
  return (v.imageSize / v.patchSize) ** 2;
}

/** A pair method's compiled step for `model`: both towers, the loss, its gradients and metrics. */
export function createPairStep(method: PairMethod, model: CLIP, opts: PairStepOptions): Promise<TrainStep> {
  const p = opts.patchDropout ?? 0;
  const inputs: Record<string, { shape: number[]; dtype?: "int32" }> = pairInputs(
    model,
    opts.batch,
    opts.textLength ?? model.cfg.text.contextLength,
  );
  if (p > 0) inputs.keep = { shape: [opts.batch * (patchesKept(vitPatches(model), p) + 1)], dtype: "int32" };
  return TrainStep.create({
    model,
    inputs,
    loss: ({ images, tokens, keep }) =>
      method.loss(
        model,
        model.encodeImage(images as Tensor, false, keep),
        model.encodeText(tokens as Tensor),
      ),
    trainable: opts.trainable,
    session: opts.session,
  });
}

/**
 * A pair method's step over `accum` micro-batches of `batch` pairs (a contrastive batch of accum × batch):
 * each micro-batch is embedded without gradients, the loss is taken over all of them, and gradients are
 * recomputed micro-batch by micro-batch (nn/accum-step.ts). Equals createPairStep at accum × batch pairs,
 * to float rounding, in the memory of `batch`.
 */
export function createPairAccumStep(
  method: PairMethod,
  model: CLIP,
  opts: PairStepOptions & { accum: number },
): Promise<AccumStep> {
  return AccumStep.create({
    model,
    accum: opts.accum,
    inputs: pairInputs(model, opts.batch, opts.textLength ?? model.cfg.text.contextLength),
    features: ({ images, tokens }) => ({
      image: model.encodeImage(images as Tensor),
      text: model.encodeText(tokens as Tensor),
    }),
    loss: ({ image, text }) => method.loss(model, image as Tensor, text as Tensor),
    trainable: opts.trainable,
    session: opts.session,
  });
}

export interface PairExtras {
  tokenizer?: string;
  evalData?: string;
  evalEvery?: number;
}

export async function startPairs(
  method: PairMethod,
  ctx: TraineeContext<PairSettings>,
  extras: PairExtras,
): Promise<Trainee> {
  const { dir, settings: o, prior, from, say } = ctx;
  // The model to train: the checkpoint's (resume), pretrained weights (init), or a fresh one.
  let start: { model: CLIP; tokenizer?: TextTokenizer; preprocess: Preprocess };
  if (prior && from) {
    start = loadClip(from);
    const saved = (start as LoadedClip).config;
    if (saved.step !== prior.step)
      throw new UserError(
        `${join(from, MODEL_FILE)}: holds step ${saved.step}, state.json says ${prior.step}`,
      );
    if ((saved.method ?? "clip") !== o.method)
      throw new UserError(
        `${from}: juxta.json says method ${saved.method ?? "clip"}, state.json says ${o.method}`,
      );
  } else if (o.init) {
    start = loadInit(o.init, { tokenizer: extras.tokenizer });
    say(`starting from ${o.init} (${start.model.parameterCount.toLocaleString("en")} parameters)`);
  } else {
    const cfg = o.config ?? presetConfig(o.preset as PresetName);
    const initLogitScale = cfg.initLogitScale ?? method.initLogitScale;
    const model = new CLIP({
      ...cfg,
      ...(initLogitScale !== undefined ? { initLogitScale } : {}),
    }).initialize(o.seed);
    start = { model, preprocess: defaultPreprocess(model.cfg) };
  }
  const { model, preprocess } = start;
  for (const line of method.prepare(model, prior ? "resume" : o.init ? "init" : "fresh")) say(line);
  const cfg = model.cfg;
  const size = cfg.vision.imageSize;

  // The held-out set first, its images decoded: a bad one is reported now, not at the first evaluation.
  if (extras.evalData) ctx.setup.say(`reading the held-out set ${extras.evalData}`);
  const evalSet = extras.evalData
    ? await loadHeldOutSet(extras.evalData, { dataset: ctx.dataset, strict: ctx.strict, stream: ctx.stream })
    : undefined;

  // Data: rows → samples (bad ones skipped and counted), decoded once into the cache or streamed.
  const data = await openTrainingData(o.data, {
    ...ctx.data,
    dataset: ctx.dataset,
    strict: ctx.strict,
    size,
    seed: o.seed,
    stream: ctx.stream,
  });
  const { summary } = data;
  if (summary.uncaptioned.count > 0)
    throw new UserError(
      `${o.data}: ${summary.uncaptioned.count} samples have no caption; ${method.name} trains on image-text pairs`,
    );

  // Tokenizer: the start model's, a given one, or one trained on these captions.
  let tokenizer: TextTokenizer;
  if (start.tokenizer) tokenizer = start.tokenizer;
  else if (extras.tokenizer) tokenizer = loadTokenizer(extras.tokenizer);
  else {
    const texts = summary.captions;
    const of = summary.allCaptions ? "" : ` (a seeded sample of the streamed data's captions)`;
    say(`training a ${cfg.text.vocabSize}-token BPE tokenizer on ${texts.length} captions${of}`);
    tokenizer = trainBpe(texts, { vocabSize: cfg.text.vocabSize });
  }
  checkTokenizer(tokenizer, cfg, extras.tokenizer ?? join(dir, "tokenizer.json"));
  const ctxLength = cfg.text.contextLength;
  // SigLIP's bidirectional text tower pools the last position: it always runs the whole context.
  const textLength = model.text.trimsPadding ? captionPositions(tokenizer, summary, ctxLength) : ctxLength;
  if (textLength < ctxLength)
    say(
      `captions here need at most ${textLength} of ${ctxLength} token positions: the text tower runs on ${textLength}`,
    );

  // With accumulation a step takes accumFreq micro-batches of `batch` pairs; runs from before it had none.
  const accum = o.accumFreq ?? 1;
  const loader = data.loader({
    batchSize: o.batch * accum,
    augment: o.augment ?? "clip",
    mean: preprocess.mean,
    std: preprocess.std,
    workers: ctx.workers,
  });

  model.train();
  const trainable = o.lockImage || o.lockText ? lockedParams(model, o) : undefined;
  const stepOptions = { batch: o.batch, trainable, textLength, session: ctx.session };
  let run: Trainee["step"]["run"];
  let compiled: AccumStep | TrainStep;
  if (accum > 1) {
    ctx.setup.say(
      `compiling the training step: ${accum} micro-batches of ${o.batch} pairs, features cached, gradients per micro-batch`,
    );
    const step = await createPairAccumStep(method, model, { ...stepOptions, accum });
    compiled = step;
    const perImage = 3 * size * size;
    run = (batch, index) =>
      step.run(
        Array.from({ length: accum }, (_, j) => ({
          images: batch.pixels.subarray(j * o.batch * perImage, (j + 1) * o.batch * perImage),
          tokens: tokenizer.encodeBatch(batch.texts.slice(j * o.batch, (j + 1) * o.batch), textLength),
        })),
        index,
      );
  } else {
    ctx.setup.say("compiling the training step (forward, loss and backward as one ONNX model)");
    const p = o.patchDropout ?? 0;
    const step = await createPairStep(method, model, { ...stepOptions, patchDropout: p });
    compiled = step;
    const patches = p > 0 ? vitPatches(model) : 0;
    if (p > 0)
      say(
        `patch dropout ${p}: each training image keeps ${patchesKept(patches, p)} of its ${patches} patches`,
      );
    run = (batch, index) =>
      step.run(
        {
          images: batch.pixels,
          tokens: tokenizer.encodeBatch(batch.texts, textLength),
          // The patches kept depend on the step alone, so a resumed run keeps the same ones.
          ...(p > 0
            ? { keep: patchKeepIndices(o.batch, patches, p, streamKey(o.seed, "patch-dropout", index)) }
            : {}),
        },
        index,
      );
  }

  let evaluate: Trainee["evaluate"];
  if (evalSet) {
    evaluate = async () => {
      const result = await evaluateClip({ model, tokenizer, preprocess }, evalSet, { linearProbe: false });
      model.train();
      const values = evalValues(result);
      const shown = ["image_to_text/R@1", "text_to_image/R@1", "zero_shot/top1"].filter((k) => k in values);
      // counts and classes let a report draw chance levels (R@k: k/captions or k/images; top-k: k/classes).
      return { values, shown, details: { counts: result.counts, classes: result.zero_shot?.classes } };
    };
  } else if (extras.evalEvery !== undefined)
    throw new OptionError(`{evalEvery} needs {evalData} (the held-out set to evaluate on)`);

  const buffers = model.buffers();
  return {
    loader,
    step: { params: compiled.params, run, afterUpdate() {}, release: () => compiled.release() },
    files: (at) => clipFiles(model, tokenizer, { step: at, preset: o.preset, preprocess }),
    snapshot: () => snapshotBuffers(buffers),
    progress: { label: "train", unit: "pairs", perTick: o.batch * accum },
    evaluate,
    get skipped() {
      return data.log.total;
    },
    data: data.record,
  };
}

/**
 * Token positions the text tower needs for these captions: the longest encoding (start and end tokens
 * included, at most the context), rounded up to a multiple of 8. Positions after a caption's end-of-text
 * token never reach CLIP's loss (causal tower, pooled there), so dropping the ones no caption uses is exact.
 * Streamed data keeps only a sample of its captions: the others are bounded by the longest caption's UTF-8
 * bytes (each token of a byte-level BPE, CLIP's and the trained one, covers at least one byte).
 */
function captionPositions(tokenizer: TextTokenizer, summary: DataSummary, ctx: number): number {
  let longest = 1;
  for (const text of summary.captions)
    longest = Math.max(longest, Math.min(ctx, tokenizer.encode(text).length + 2));
  if (!summary.allCaptions) longest = Math.max(longest, Math.min(ctx, summary.longestCaptionBytes + 2));
  return Math.min(ctx, Math.ceil(longest / 8) * 8);
}
