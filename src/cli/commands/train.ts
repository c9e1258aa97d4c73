/**
 * `juxta train`: a CLIP model on image-text pairs (clip, siglip) or an image-only encoder (simclr, moco,
 * supcon, triplet). A resume finds the run's method in its folder, so `--resume --out RUN` is enough.
 */

import { IMAGE_METHODS, type ImageMethod } from "../../methods/steps.js";
import type { ImageMethodOptions } from "../../methods/train.js";
import { trainImageMethod } from "../../methods/train.js";
import type { ClipMethod } from "../../models/saved.js";
import { readState } from "../../train/checkpoint.js";
import { type ClipTrainOptions, trainClip } from "../../train/clip-trainer.js";
import { formatRunTiming } from "../../train/run.js";
import { UserError } from "../../util/errors.js";
import { defineCommand, numberFlag } from "../command.js";

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
  "template",
] as const;

export const train = defineCommand({
  name: "train",
  summary:
    "train CLIP/SigLIP on image-text pairs, or an image encoder with SimCLR, MoCo v2, SupCon or triplet loss",
  usage:
    "juxta train --data FILE --out RUN [--method clip|siglip|simclr|moco|supcon|triplet] [--preset NAME] [--epochs N | --minutes M] [--batch B] [--lr LR] [--seed S] [--resume]",
  help: [
    "options:",
    "  --method NAME        clip (default): softmax contrastive loss on image-text pairs",
    "                       siglip: pairwise sigmoid loss with a learned bias (t starts at 10, b at -10)",
    "                       simclr, moco: self-supervised image encoder (two augmented views per image)",
    "                       supcon, triplet: image encoder trained on class labels (field 'label')",
    "  --data FILE          manifest (.jsonl/.csv/.tsv), image folder, .tar shards, CIFAR-10 or MNIST files",
    "  --out RUN            run folder: model.safetensors, juxta.json, metrics.jsonl, checkpoint",
    "  --preset NAME        clip/siglip: tiny (default), tiny-resnet, small, b32;",
    `                       image methods: resnet-tiny (default, 32 px), resnet-small (64 px), vit-tiny (64 px)`,
    "  --epochs N           passes over the data (default 10 unless --minutes is given)",
    "  --minutes M          time budget for training and its evaluations (not with --epochs): the schedule",
    "                       is sized from the measured pace to end, fully annealed, within it; set-up",
    "                       (decoding, tokenizer, compiling) comes first and is timed apart",
    "  --batch B            pairs (clip, siglip) or images (two views each) per step (default 128)",
    "  --lr LR              peak learning rate (default 5e-4 clip/siglip, 1e-3 image methods), --warmup STEPS",
    "  --weight-decay WD    AdamW weight decay (default 0.2 clip/siglip, 1e-4 image methods)",
    "  --max-grad-norm X    clip the global gradient norm",
    "  --seed S             initialization, shuffling and augmentation seed (default 0)",
    "  --save-every N       steps between checkpoints (default: every 2 minutes)",
    "  --resume             continue the run in --out from its last checkpoint, exactly (method and settings",
    "                       come from the run folder)",
    "  --strict             stop at the first bad input instead of skipping it",
    "  --image-field PATH   field paths for other manifest layouts, e.g. file.path or 'captions[*].text'",
    "  --label-field PATH   where supcon/triplet (and zero-shot evals) find the class label",
    "clip and siglip:",
    "  --tokenizer FILE     use this tokenizer.json instead of training one on the captions",
    "  --init DIR           fine-tune pretrained weights (Juxta run, Hugging Face or OpenCLIP folder); lr 1e-5",
    "  --lock-image         keep the image tower frozen (LiT); --lock-text likewise",
    "  --eval-data FILE     evaluate on a held-out set before the first step, at the end, and every",
    "                       --eval-every steps (default: 10 times a run; with --minutes, as often as fits",
    "                       in a fifth of the budget)",
    "  --text-field PATH, --template 'a photo of a {label}.'",
    "image methods:",
    "  --temperature T      loss temperature (default simclr 0.5, moco 0.2, supcon 0.1)",
    "  --similarity S       simclr: cosine (default), dot or neg_l2",
    "  --augment A          simclr (default; moco: mocov2), mocov2, crop (random resized crop only) or none",
    "  --margin M           triplet margin (default 0.2); --miner batch_hard (default), semihard, hard, all",
    "  --queue K            moco: queue length, a multiple of --batch (default: up to 4096, under an epoch)",
    "  --momentum M         moco: key-encoder momentum (default 0.99)",
    "",
    "examples:",
    "  juxta data emoji --out data/emoji && juxta train --data data/emoji/train.jsonl --out runs/emoji --minutes 5",
    "  juxta train --method supcon --data data/emoji/train.jsonl --out runs/supcon --minutes 3",
    "  juxta eval --model runs/supcon --data data/emoji/test.jsonl --knn-train data/emoji/train.jsonl",
  ].join("\n"),
  options: {
    method: { type: "string" },
    data: { type: "string" },
    out: { type: "string" },
    preset: { type: "string" },
    epochs: { type: "string" },
    minutes: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    "weight-decay": { type: "string" },
    warmup: { type: "string" },
    "max-grad-norm": { type: "string" },
    seed: { type: "string" },
    tokenizer: { type: "string" },
    init: { type: "string" },
    "lock-image": { type: "boolean" },
    "lock-text": { type: "boolean" },
    "eval-data": { type: "string" },
    "eval-every": { type: "string" },
    temperature: { type: "string" },
    similarity: { type: "string" },
    augment: { type: "string" },
    margin: { type: "string" },
    miner: { type: "string" },
    queue: { type: "string" },
    momentum: { type: "string" },
    "image-field": { type: "string" },
    "text-field": { type: "string" },
    "label-field": { type: "string" },
    template: { type: "string" },
    "save-every": { type: "string" },
    resume: { type: "boolean" },
    strict: { type: "boolean" },
  },
  async run(v) {
    if (!v.out) throw new UserError("--out RUN is required (the folder the model and checkpoints go to)");
    if (!v.data && !v.resume) throw new UserError("--data FILE is required");
    const method = resolveMethod(v.method, v.out, v.resume ?? false);
    const image = (IMAGE_METHODS as readonly string[]).includes(method);
    for (const flag of image ? CLIP_ONLY : IMAGE_ONLY)
      if (v[flag] !== undefined)
        throw new UserError(
          `--${flag} does not apply to --method ${method}; it is for ${image ? "clip and siglip" : "the image methods (simclr, moco, supcon, triplet)"}`,
        );
    const optional = (
      name: string,
      value: string | undefined,
      opts: { integer?: boolean; min?: number } = {},
    ) => (value === undefined ? undefined : numberFlag(value, name, 0, opts));
    const shared = {
      data: v.data,
      out: v.out,
      epochs: optional("epochs", v.epochs, { integer: true, min: 1 }),
      minutes: optional("minutes", v.minutes, { min: 0.05 }),
      batch: optional("batch", v.batch, { integer: true, min: 2 }),
      lr: optional("lr", v.lr, { min: 0 }),
      weightDecay: optional("weight-decay", v["weight-decay"], { min: 0 }),
      warmup: optional("warmup", v.warmup, { integer: true, min: 1 }),
      maxGradNorm: optional("max-grad-norm", v["max-grad-norm"], { min: 0 }),
      seed: optional("seed", v.seed, { integer: true }),
      saveEvery: optional("save-every", v["save-every"], { integer: true, min: 1 }),
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
        temperature: optional("temperature", v.temperature, { min: 1e-4 }),
        similarity: choice("similarity", v.similarity, SIMILARITIES),
        augment: choice("augment", v.augment, AUGMENTS) as ImageMethodOptions["augment"],
        margin: optional("margin", v.margin, { min: 0 }),
        miner: choice("miner", v.miner, MINERS),
        queue: optional("queue", v.queue, { integer: true, min: 1 }),
        momentum: unitInterval("momentum", optional("momentum", v.momentum, { min: 0 })),
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
      evalEvery: optional("eval-every", v["eval-every"], { integer: true, min: 1 }),
      dataset: {
        imageField: v["image-field"],
        textField: v["text-field"],
        labelField: v["label-field"],
        template: v.template,
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
function resolveMethod(given: string | undefined, out: string, resume: boolean): Method {
  if (given !== undefined && !(METHODS as readonly string[]).includes(given))
    throw new UserError(`--method must be one of ${METHODS.join(", ")}, got '${given}'`);
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

function unitInterval(flag: string, value: number | undefined): number | undefined {
  if (value !== undefined && value > 1)
    throw new UserError(`--${flag} expects a number in [0, 1], got ${value}`);
  return value;
}

function choice<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw new UserError(`--${flag} must be one of ${allowed.join(", ")}, got '${value}'`);
  return value as T;
}
