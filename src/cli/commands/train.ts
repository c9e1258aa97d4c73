/**
 * `juxta train`: a CLIP model on image-text pairs (clip, siglip) or an image-only encoder (simclr, moco,
 * supcon, triplet). A resume finds the run's method in its folder, so `--resume --out RUN` is enough.
 */

import { IMAGE_METHODS, type ImageMethod } from "../../methods/steps.js";
import { type ImageMethodOptions, trainImageMethod } from "../../methods/train.js";
import type { ClipMethod } from "../../models/saved.js";
import { readState } from "../../train/checkpoint.js";
import { type ClipTrainOptions, trainClip } from "../../train/clip-trainer.js";
import { formatRunTiming } from "../../train/run.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";
import { DATASET_OPTIONS } from "../options.js";

const CLIP_METHODS = ["clip", "siglip"] as const;
const METHODS = [...CLIP_METHODS, ...IMAGE_METHODS] as const;
type Method = ClipMethod | ImageMethod;

/** Image-only methods train this encoder unless --preset says otherwise: a few hundred steps fit in minutes. */
const IMAGE_PRESET = "resnet-tiny";

const AUGMENTS = ["simclr", "mocov2", "crop", "none"] as const;
const SIMILARITIES = ["cosine", "dot", "neg_l2"] as const;
const MINERS = ["batch_hard", "semihard", "hard", "all"] as const;

/** Flags that only one family of methods reads; giving one to the other family is a mistake. */
const IMAGE_ONLY = ["temperature", "similarity", "augment", "margin", "miner", "queue", "momentum"] as const;
const CLIP_ONLY = [
  "tokenizer",
  "init",
  "lock-image",
  "lock-text",
  "eval-data",
  "eval-every",
  "text-field",
  "caption-template",
] as const;

export const train = defineCommand({
  name: "train",
  summary:
    "train CLIP/SigLIP on image-text pairs, or an image encoder with SimCLR, MoCo v2, SupCon or triplet loss",
  usage:
    "juxta train --data FILE --out RUN [--method clip|siglip|simclr|moco|supcon|triplet] [--preset NAME] [--epochs N | --minutes M] [--batch B] [--lr LR] [--seed S] [--resume]",
  options: {
    method: {
      type: "choice",
      choices: METHODS,
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
        "clip/siglip: tiny (default), tiny-resnet, small, b32;",
        `image methods: ${IMAGE_PRESET} (default, 32 px), resnet-small (64 px), vit-tiny (64 px)`,
      ],
    },
    epochs: {
      type: "integer",
      arg: "N",
      min: 1,
      defaultHelp: "per method, unless --minutes is given",
      help: "passes over the data",
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
      defaultHelp: "per method",
      help: "pairs (clip, siglip) or images (two views each) per step",
    },
    lr: { type: "number", arg: "LR", min: 0, defaultHelp: "per method", help: "peak learning rate" },
    warmup: {
      type: "integer",
      arg: "STEPS",
      min: 1,
      defaultHelp: "per method",
      help: "linear warm-up steps",
    },
    "weight-decay": {
      type: "number",
      arg: "WD",
      min: 0,
      defaultHelp: "per method",
      help: "AdamW weight decay",
    },
    "max-grad-norm": { type: "number", arg: "X", min: 0, help: "clip the global gradient norm" },
    seed: {
      type: "integer",
      arg: "S",
      defaultHelp: "0",
      help: "initialization, shuffling and augmentation seed",
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
    strict: { type: "boolean", help: "stop at the first bad input instead of skipping it" },
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
      help: "fine-tune pretrained weights (Juxta run, Hugging Face or OpenCLIP folder); lr 1e-5",
    },
    "lock-image": { type: "boolean", help: "keep the image tower frozen (LiT)" },
    "lock-text": { type: "boolean", help: "keep the text tower frozen" },
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
      defaultHelp: "per method",
      help: "loss temperature",
    },
    similarity: {
      type: "choice",
      choices: SIMILARITIES,
      defaultHelp: "cosine",
      help: "simclr: the similarity",
    },
    augment: {
      type: "choice",
      choices: AUGMENTS,
      defaultHelp: "per method",
      help: "simclr's, moco's (mocov2), random resized crop only, or none",
    },
    margin: { type: "number", arg: "M", min: 0, defaultHelp: "per method", help: "triplet margin" },
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
      defaultHelp: "per method",
      help: "moco: key-encoder momentum",
    },
  },
  notes: [
    "'per method': the library's default for the --method given (juxta train and trainClip/trainImageMethod agree).",
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
    for (const flag of image ? CLIP_ONLY : IMAGE_ONLY)
      if (v[flag] !== undefined)
        throw new UserError(
          `--${flag} does not apply to --method ${method}; it is for ${image ? "clip and siglip" : "the image methods (simclr, moco, supcon, triplet)"}`,
        );
    const shared = {
      data: v.data,
      out: v.out,
      epochs: v.epochs,
      minutes: v.minutes,
      batch: v.batch,
      lr: v.lr,
      weightDecay: v["weight-decay"],
      warmup: v.warmup,
      maxGradNorm: v["max-grad-norm"],
      seed: v.seed,
      saveEvery: v["save-every"],
      resume: v.resume,
      strict: v.strict,
    };
    if (image) {
      const prior = v.resume ? readState(v.out) : undefined;
      if (prior && prior.step >= prior.totalSteps) {
        // Without this the loop would run past the schedule's end.
        console.log(
          `${v.out}: the run is complete (${prior.step} of ${prior.totalSteps} steps); nothing to resume`,
        );
        return;
      }
      const result = await trainImageMethod({
        ...shared,
        method: method as ImageMethod,
        preset: (v.preset ?? (v.resume ? undefined : IMAGE_PRESET)) as ImageMethodOptions["preset"],
        temperature: v.temperature,
        similarity: v.similarity,
        augment: v.augment,
        margin: v.margin,
        miner: v.miner,
        queue: v.queue,
        momentum: v.momentum,
        dataset: { imageField: v["image-field"], labelField: v["label-field"] },
      });
      if (result.losses.length > 0)
        console.log(
          `${result.method}: ${trainedTo(result)}, final loss ${result.lastLoss.toFixed(4)}; ${formatRunTiming(result)}; encoder saved in ${result.dir}`,
        );
      return;
    }
    const result = await trainClip({
      ...shared,
      method: method as ClipMethod,
      preset: v.preset as ClipTrainOptions["preset"],
      tokenizer: v.tokenizer,
      init: v.init,
      lockImage: v["lock-image"],
      lockText: v["lock-text"],
      evalData: v["eval-data"],
      evalEvery: v["eval-every"],
      dataset: {
        imageField: v["image-field"],
        textField: v["text-field"],
        labelField: v["label-field"],
        template: v["caption-template"],
      },
    });
    if (result.losses.length > 0)
      console.log(
        `${trainedTo(result)}, final loss ${result.lastLoss.toFixed(4)}; ${formatRunTiming(result)}; model saved in ${result.dir}`,
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
  if (!state) throw new UserError(`--resume: ${out} holds no checkpoint (state.json) to resume from`);
  const recorded = (state.options.method ?? "clip") as Method;
  if (given !== undefined && given !== recorded)
    throw new UserError(
      `--resume: --method ${given} differs from the run's ${recorded}; a resumed run keeps it`,
    );
  return recorded;
}
