import { trainClip } from "../../train/clip-trainer.js";
import { UserError } from "../../util/errors.js";
import { defineCommand, numberFlag } from "../command.js";

export const train = defineCommand({
  name: "train",
  summary:
    "train a CLIP model on image-text pairs (manifest, image folder, WebDataset shards, CIFAR-10, MNIST)",
  usage:
    "juxta train --data FILE --out RUN [--preset tiny|small|b32] [--epochs N | --minutes M] [--batch B] [--lr LR] [--seed S] [--resume]",
  help: [
    "options:",
    "  --data FILE          manifest (.jsonl/.csv/.tsv), image folder, .tar shards, CIFAR-10 or MNIST files",
    "  --out RUN            run folder: model.safetensors, juxta.json, tokenizer.json, metrics.jsonl, checkpoint",
    "  --preset NAME        model shapes (default tiny)",
    "  --epochs N           passes over the data (default 10 unless --minutes is given)",
    "  --minutes M          time budget; the learning-rate schedule is sized to fit it",
    "  --batch B            pairs per step (default 128)",
    "  --lr LR              peak learning rate (default 5e-4), --weight-decay (0.2), --warmup STEPS",
    "  --max-grad-norm X    clip the global gradient norm",
    "  --seed S             initialization, shuffling and augmentation seed (default 0)",
    "  --tokenizer FILE     use this tokenizer.json instead of training one on the captions",
    "  --init DIR           fine-tune pretrained weights (Juxta run, Hugging Face or OpenCLIP folder); lr 1e-5",
    "  --lock-image         keep the image tower frozen (LiT); --lock-text likewise",
    "  --eval-data FILE     evaluate on a held-out set every --eval-every steps (default: 10 times a run)",
    "  --image-field PATH   field paths for other manifest layouts, e.g. file.path or 'captions[*].text'",
    "  --text-field PATH, --label-field PATH, --template 'a photo of a {label}.'",
    "  --save-every N       steps between checkpoints (default: every 2 minutes)",
    "  --resume             continue the run in --out from its last checkpoint, exactly",
    "  --strict             stop at the first bad input instead of skipping it",
    "",
    "example:",
    "  juxta data emoji --out data/emoji && juxta train --data data/emoji/train.jsonl --out runs/emoji --minutes 5",
  ].join("\n"),
  options: {
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
    const optional = (
      name: string,
      value: string | undefined,
      opts: { integer?: boolean; min?: number } = {},
    ) => (value === undefined ? undefined : numberFlag(value, name, 0, opts));
    const result = await trainClip({
      data: v.data,
      out: v.out,
      preset: v.preset,
      epochs: optional("epochs", v.epochs, { integer: true, min: 1 }),
      minutes: optional("minutes", v.minutes, { min: 0.05 }),
      batch: optional("batch", v.batch, { integer: true, min: 2 }),
      lr: optional("lr", v.lr, { min: 0 }),
      weightDecay: optional("weight-decay", v["weight-decay"], { min: 0 }),
      warmup: optional("warmup", v.warmup, { integer: true, min: 1 }),
      maxGradNorm: optional("max-grad-norm", v["max-grad-norm"], { min: 0 }),
      seed: optional("seed", v.seed, { integer: true }),
      saveEvery: optional("save-every", v["save-every"], { integer: true, min: 1 }),
      tokenizer: v.tokenizer,
      init: v.init,
      lockImage: v["lock-image"],
      lockText: v["lock-text"],
      evalData: v["eval-data"],
      evalEvery: optional("eval-every", v["eval-every"], { integer: true, min: 1 }),
      resume: v.resume,
      strict: v.strict,
      dataset: {
        imageField: v["image-field"],
        textField: v["text-field"],
        labelField: v["label-field"],
        template: v.template,
      },
    });
    if (result.losses.length > 0)
      console.log(
        `trained to step ${result.steps}, final loss ${result.lastLoss.toFixed(4)}; model saved in ${result.dir}`,
      );
  },
});
