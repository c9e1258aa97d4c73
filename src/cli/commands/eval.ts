/**
 * `juxta eval`: retrieval recall, zero-shot, kNN and linear-probe accuracy of a CLIP model on a data set;
 * kNN and linear probe alone for an image-only encoder (no text tower).
 */
import { type EvalResult, evaluateClip, formatEval } from "../../apps/evaluate.js";
import {
  DATASET_FLAGS,
  DATASET_HELP,
  datasetOptions,
  MODEL_HELP,
  modelFlag,
  reportSkips,
} from "../../apps/flags.js";
import { evaluateImageModel, formatImageEval } from "../../apps/image-encoder.js";
import { SkipLog } from "../../data/types.js";
import { isImageEncoderDir } from "../../models/saved.js";
import { resolveTemplates } from "../../pipelines/templates.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";

export const evaluate = defineCommand({
  name: "eval",
  summary:
    "evaluate a CLIP model (image↔text recall, zero-shot, kNN, linear probe) or an image encoder (kNN, probe)",
  usage:
    "juxta eval --model RUN --data FILE [--knn-train FILE] [--templates photo|emoji|both|FILE] [--tokenizer FILE] [--json]",
  help: [
    "options:",
    ...MODEL_HELP,
    "  --data FILE          test set: manifest, image folder, shards, CIFAR-10, MNIST (a folder's test split)",
    "  --knn-train FILE     labelled training set for weighted kNN (k=200, t=0.1) and a linear probe",
    "  --templates SET      zero-shot prompts: photo, emoji, both (default) or a file with one '{}' template a line",
    "  --no-probe           with --knn-train, skip the linear probe (kNN only)",
    "  --json               print one JSON line",
    ...DATASET_HELP,
    "",
    "Samples showing the same image count as one image with several captions; equal captions as one",
    "caption matching several images. Zero-shot classifies over the labels the data set carries.",
    "An image-only encoder (juxta train --method simclr|moco|supcon|triplet) gets kNN and the linear probe on",
    "its backbone features: --knn-train FILE, or a --data folder holding train and test splits.",
    "example:",
    "  juxta eval --model runs/emoji --data data/emoji/test.jsonl --knn-train data/emoji/train.jsonl",
  ].join("\n"),
  options: {
    model: { type: "string" },
    data: { type: "string" },
    "knn-train": { type: "string" },
    templates: { type: "string" },
    tokenizer: { type: "string" },
    "no-probe": { type: "boolean" },
    json: { type: "boolean" },
    ...DATASET_FLAGS,
  },
  async run(v) {
    if (v.data === undefined) throw new UserError("--data FILE is required (the set to evaluate on)");
    if (v.model !== undefined && isImageEncoderDir(v.model)) {
      for (const flag of ["templates", "tokenizer", "no-probe", "text-field", "template"] as const)
        if (v[flag] !== undefined)
          throw new UserError(`--${flag} does not apply to ${v.model}: an image encoder has no text tower`);
      const result = await evaluateImageModel(v.model, v.data, {
        knnTrain: v["knn-train"],
        dataset: datasetOptions(v),
      });
      console.log(v.json ? JSON.stringify(result) : formatImageEval(result, v.data));
      return;
    }
    const templates = resolveTemplates(v.templates);
    const log = new SkipLog(v.strict ?? false);
    const clip = await modelFlag(v);
    let result: EvalResult;
    try {
      result = await evaluateClip(clip, v.data, {
        dataset: datasetOptions(v),
        knnTrain: v["knn-train"],
        templates,
        linearProbe: v["no-probe"] ? false : undefined,
        log,
      });
    } finally {
      await clip.dispose();
    }
    reportSkips(log);
    console.log(v.json ? JSON.stringify(result) : formatEval(result, v.data));
  },
});
