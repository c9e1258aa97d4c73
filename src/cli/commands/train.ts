/**
 * `juxta train`: a CLIP model on image-text pairs (clip, siglip) or an image-only encoder (simclr, moco,
 * supcon, triplet). A resume finds the run's method in its folder, so `--resume --out RUN` is enough.
 */

import { IMAGE_ENCODER_PRESETS } from "../../models/image-encoder.js";
import { PRESETS } from "../../models/presets.js";
import { readState } from "../../train/checkpoint.js";
import { DATA_DEFAULTS, DATA_MODES } from "../../train/data.js";
import { train as trainRun } from "../../train/loop.js";
import { IMAGE_METHODS, METHOD_NAMES, METHODS, type MethodName } from "../../train/methods/index.js";
import type { ImageMethodOptions } from "../../train/options.js";
import { formatRunTiming } from "../../train/run.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";
import { DATASET_OPTIONS } from "../options.js";

type Method = MethodName;

const AUGMENTS = ["simclr", "mocov2", "crop", "none"] as const;
const SIMILARITIES = ["cosine", "dot", "neg_l2"] as const;
const MINERS = ["batch_hard", "semihard", "hard", "all"] as const;

/** Reader options only captioned data has (the library refuses the other family's options itself). */
const CAPTION_ONLY = ["text-field", "caption-template"] as const;

/** Preset names with the default marked. */
function presetList(names: string[], fallback: string): string {
  return names.map((n) => (n === fallback ? `${n} (default)` : n)).join(", ");
}

/**
 * A default as the method records give it (the library uses the same records): one value, or each value
 * with the methods that use it ("clip/siglip 0.0005, simclr/moco/supcon/triplet 0.001").
 */
function defaultOf(key: string, methods: readonly MethodName[] = METHOD_NAMES): string {
  const byValue = new Map<string, MethodName[]>();
  for (const m of methods) {
    const v = (METHODS[m].defaults as unknown as Record<string, unknown>)[key];
    if (v !== undefined) byValue.set(String(v), [...(byValue.get(String(v)) ?? []), m]);
  }
  const [only] = byValue;
  if (byValue.size === 1 && only && only[1].length === methods.length) return only[0];
  return [...byValue].map(([v, ms]) => `${ms.join("/")} ${v}`).join(", ");
}

export const train = defineCommand({
  name: "train",
  summary:
    "train CLIP/SigLIP on image-text pairs, or an image encoder with SimCLR, MoCo v2, SupCon or triplet loss",
  usage:
    "juxta train --data FILE --out RUN [--method clip|siglip|simclr|moco|supcon|triplet] [--preset NAME] [--epochs N | --steps N | --minutes M] [--batch B] [--lr LR] [--seed S] [--resume]",
  options: {
    method: {
      type: "choice",
      choices: METHOD_NAMES,
      arg: "NAME",
      defaultHelp: "clip; a resumed run keeps its own",
      help: [
        "clip: softmax contrastive loss on image-text pairs",
        "siglip: pairwise sigmoid loss with a learned bias (t starts at 10, b at -10)",
        "simclr, moco: self-supervised image encoder (two augmented views per image)",
        "supcon, triplet: image encoder trained on class labels (field 'label')",
      ],
    },
    data: {
      type: "string",
      arg: "FILE",
      help: "manifest (.jsonl/.csv/.tsv), image folder, .tar shards, CIFAR-10 or MNIST files",
    },
    out: {
      type: "string",
      arg: "RUN",
      required: "the folder the model and checkpoints go to",
      help: "run folder: model.safetensors, juxta.json, metrics.jsonl, checkpoint",
    },
    preset: {
      type: "string",
      arg: "NAME",
      help: [
        `clip/siglip: ${presetList(Object.keys(PRESETS), METHODS.clip.defaults.preset)};`,
        `image methods: ${presetList(Object.keys(IMAGE_ENCODER_PRESETS), METHODS.simclr.defaults.preset)}`,
      ],
    },
    epochs: {
      type: "integer",
      arg: "N",
      min: 1,
      defaultHelp: `${defaultOf("epochs")}, unless --minutes is given`,
      help: "passes over the data",
    },
    steps: {
      type: "integer",
      arg: "N",
      min: 1,
      help: [
        "the schedule's length in optimizer steps (not with --epochs or --minutes): the",
        "same training whatever the machine's load, for comparing recipes",
      ],
    },
    minutes: {
      type: "number",
      arg: "M",
      min: 0.05,
      help: [
        "time budget for training and its evaluations (not with --epochs): the schedule",
        "is sized from the measured pace to end, fully annealed, within it; set-up",
        "(decoding, tokenizer, compiling) comes first and is timed apart",
      ],
    },
    batch: {
      type: "integer",
      arg: "B",
      min: 2,
      defaultHelp: defaultOf("batch"),
      help: "pairs (clip, siglip) or images (two views each) per step",
    },
    lr: { type: "number", arg: "LR", min: 0, defaultHelp: defaultOf("lr"), help: "peak learning rate" },
    warmup: {
      type: "integer",
      arg: "STEPS",
      min: 1,
      defaultHelp: "a tenth of the schedule, at most 500",
      help: "linear warm-up steps",
    },
    "weight-decay": {
      type: "number",
      arg: "WD",
      min: 0,
      defaultHelp: defaultOf("weightDecay"),
      help: "AdamW weight decay",
    },
    "max-grad-norm": { type: "number", arg: "X", min: 0, help: "clip the global gradient norm" },
    seed: {
      type: "integer",
      arg: "S",
      defaultHelp: "0",
      help: "initialization, shuffling and augmentation seed",
    },
    augment: {
      type: "choice",
      choices: AUGMENTS,
      defaultHelp: defaultOf("augment"),
      help: [
        "training images' augmentation: clip (OpenCLIP's 90-100 % crop), clip-strong",
        "(50-100 % crop, colour jitter without hue; no flip), simclr, mocov2, crop",
        "(SimCLR's crop only) for the image methods, or none",
      ],
    },
    "save-every": {
      type: "integer",
      arg: "N",
      min: 1,
      defaultHelp: "every 2 minutes",
      help: "steps between checkpoints",
    },
    resume: {
      type: "boolean",
      help: [
        "continue the run in --out from its last checkpoint, exactly (method and settings",
        "come from the run folder)",
      ],
    },
    "accept-changed-data": {
      type: "boolean",
      help: [
        "with --resume: train on the run's data although it changed since the run",
        "started (the run records its absolute path, size and a hash)",
      ],
    },
    strict: { type: "boolean", help: "stop at the first bad input instead of skipping it" },
    "data-mode": {
      type: "choice",
      choices: DATA_MODES,
      defaultHelp: DATA_DEFAULTS.mode,
      help: [
        "cache: decode every image into memory once, before the first step;",
        "stream: decode batch by batch in the loader's workers (memory does not grow",
        "with the data); auto: stream when the cache's estimate exceeds",
        `${Math.round(DATA_DEFAULTS.cacheLimitBytes / 2 ** 20)} MiB. A resumed run keeps its own`,
      ],
    },
    "shuffle-buffer": {
      type: "integer",
      arg: "N",
      min: 1,
      defaultHelp: String(DATA_DEFAULTS.shuffleBuffer),
      help: "streamed: samples held for shuffling (the shards are also shuffled per epoch)",
    },
    "image-field": DATASET_OPTIONS["image-field"],
    "label-field": {
      type: "string",
      arg: "PATH",
      help: "where supcon/triplet (and zero-shot evals) find the class label",
    },
    tokenizer: {
      type: "string",
      arg: "FILE",
      group: "clip and siglip:",
      help: "use this tokenizer.json instead of training one on the captions",
    },
    init: {
      type: "string",
      arg: "DIR",
      help: `fine-tune pretrained weights (Juxta run, Hugging Face or OpenCLIP folder); lr ${METHODS.clip.defaults.fineTuneLr}`,
    },
    "lock-image": { type: "boolean", help: "keep the image tower frozen (LiT)" },
    "lock-text": { type: "boolean", help: "keep the text tower frozen" },
    "accum-freq": {
      type: "integer",
      arg: "N",
      min: 1,
      defaultHelp: "1",
      help: [
        "micro-batches per step (open_clip's --accum-freq): a contrastive batch of",
        "N × --batch pairs in about the memory of --batch (features cached, gradients",
        "recomputed per micro-batch; exact)",
      ],
    },
    "patch-dropout": {
      type: "number",
      arg: "P",
      min: 0,
      max: 0.99,
      defaultHelp: "0",
      help: [
        "share of a ViT image tower's patches left out of each training image (FLIP,",
        "open_clip's patch_dropout; cheaper steps); inference sees every patch",
      ],
    },
    "eval-data": {
      type: "string",
      arg: "FILE",
      help: ["evaluate on a held-out set before the first step, at the end, and every", "--eval-every steps"],
    },
    "eval-every": {
      type: "integer",
      arg: "N",
      min: 1,
      defaultHelp: "10 times a run; with --minutes, as often as fits in a fifth of the budget",
      help: "steps between evaluations",
    },
    "text-field": DATASET_OPTIONS["text-field"],
    "caption-template": DATASET_OPTIONS["caption-template"],
    temperature: {
      type: "number",
      arg: "T",
      min: 1e-4,
      group: "image methods:",
      defaultHelp: defaultOf("temperature", IMAGE_METHODS),
      help: "loss temperature",
    },
    similarity: {
      type: "choice",
      choices: SIMILARITIES,
      defaultHelp: "cosine",
      help: "simclr: the similarity",
    },
    margin: {
      type: "number",
      arg: "M",
      min: 0,
      defaultHelp: String(METHODS.triplet.defaults.margin),
      help: "triplet margin",
    },
    miner: {
      type: "choice",
      choices: MINERS,
      defaultHelp: "batch_hard",
      help: "triplet: which triplets count",
    },
    queue: {
      type: "integer",
      arg: "K",
      min: 1,
      defaultHelp: "up to 4096, under an epoch",
      help: "moco: queue length, a multiple of --batch",
    },
    momentum: {
      type: "number",
      arg: "M",
      min: 0,
      max: 1,
      defaultHelp: String(METHODS.moco.defaults.momentum),
      help: "moco: key-encoder momentum",
    },
    views: {
      type: "integer",
      arg: "V",
      min: 1,
      defaultHelp: String(METHODS.supcon.defaults.views),
      help: "supcon: augmented views of each image per step (1 holds twice the images)",
    },
  },
  notes: [
    "Defaults come from each method's record (src/train/methods), which the library's train() reads too.",
    "",
    "examples:",
    "  juxta data emoji --out data/emoji && juxta train --data data/emoji/train.jsonl --out runs/emoji --minutes 5",
    "  juxta train --method supcon --data data/emoji/train.jsonl --out runs/supcon --minutes 3",
    "  juxta eval --model runs/supcon --data data/emoji/test.jsonl --knn-train data/emoji/train.jsonl",
  ],
  async run(v) {
    if (!v.data && !v.resume) throw new UserError("--data FILE is required");
    const method = resolveMethod(v.method, v.out, v.resume ?? false);
    const image = (IMAGE_METHODS as readonly string[]).includes(method);
    if (image)
      for (const flag of CAPTION_ONLY)
        if (v[flag] !== undefined)
          throw new UserError(
            `--${flag} does not apply to --method ${method}; the image methods train on images alone`,
          );
    // Options of the other family are refused by the library (its OptionError names them as flags here).
    const result = await trainRun({
      method,
      data: v.data,
      out: v.out,
      preset: v.preset,
      epochs: v.epochs,
      steps: v.steps,
      minutes: v.minutes,
      batch: v.batch,
      lr: v.lr,
      weightDecay: v["weight-decay"],
      warmup: v.warmup,
      maxGradNorm: v["max-grad-norm"],
      seed: v.seed,
      saveEvery: v["save-every"],
      resume: v.resume,
      acceptChangedData: v["accept-changed-data"],
      strict: v.strict,
      dataMode: v["data-mode"],
      shuffleBuffer: v["shuffle-buffer"],
      tokenizer: v.tokenizer,
      init: v.init,
      lockImage: v["lock-image"],
      lockText: v["lock-text"],
      accumFreq: v["accum-freq"],
      patchDropout: v["patch-dropout"],
      evalData: v["eval-data"],
      evalEvery: v["eval-every"],
      temperature: v.temperature,
      similarity: v.similarity,
      augment: v.augment,
      margin: v.margin,
      miner: v.miner,
      queue: v.queue,
      momentum: v.momentum,
      views: v.views,
      dataset: {
        imageField: v["image-field"],
        textField: v["text-field"],
        labelField: v["label-field"],
        template: v["caption-template"],
      },
    } as ImageMethodOptions);
    // Stopped by a signal after its final checkpoint: the shell's status for that signal (128 + number).
    if (result.interrupted) process.exitCode = result.interrupted === "SIGTERM" ? 143 : 130;
    if (result.losses.length > 0)
      console.log(
        `${image ? `${result.method}: ` : ""}${trainedTo(result)}, final loss ${result.lastLoss.toFixed(4)}; ${formatRunTiming(result)}; ${image ? "encoder" : "model"} saved in ${result.dir}`,
      );
  },
});

/** `trained to step 26 of 26` (the schedule complete), or where an interrupted run stands. */
function trainedTo(r: { steps: number; totalSteps: number }): string {
  return `trained to step ${r.steps} of ${r.totalSteps}${r.steps < r.totalSteps ? " (continue with --resume)" : ""}`;
}

/**
 * The method to run: --method, or on a resume the one the run folder records (state.json's options; CLIP
 * runs from before --method existed recorded none).
 */
function resolveMethod(given: Method | undefined, out: string, resume: boolean): Method {
  if (!resume) return (given ?? "clip") as Method;
  const state = readState(out);
  if (!state) throw new UserError(`--resume: ${out} holds no checkpoint (checkpoint.json) to resume from`);
  const recorded = (state.options.method ?? "clip") as Method;
  if (given !== undefined && given !== recorded)
    throw new UserError(
      `--resume: --method ${given} differs from the run's ${recorded}; a resumed run keeps it`,
    );
  return recorded;
}
