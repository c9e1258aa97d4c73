/**
 * `juxta eval`: retrieval recall, zero-shot, kNN and linear-probe accuracy of a CLIP model on a data set;
 * kNN and linear probe alone for an image-only encoder (no text tower).
 */
import { type DtypeDrift, formatDrift, measureDrift } from "../../apps/drift.js";
import { formatEval } from "../../apps/evaluate.js";
import { evaluateImageModel, formatImageEval } from "../../apps/image-encoder.js";
import { SkipLog } from "../../data/types.js";
import { type EvalResult, evaluateClip, loadEvalSet } from "../../eval/clip.js";
import { isImageEncoderDir } from "../../models/saved.js";
import { resolveTemplates } from "../../pipelines/templates.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";
import {
  DATASET_OPTIONS,
  datasetOptions,
  MODEL_OPTIONS,
  modelFlag,
  reportSkips,
  TEMPLATES_OPTION,
} from "../options.js";

export const evaluate = defineCommand({
  name: "eval",
  summary:
    "evaluate a CLIP model (image↔text recall, zero-shot, kNN, linear probe) or an image encoder (kNN, probe)",
  usage:
    "juxta eval --model RUN --data FILE [--knn-train FILE] [--templates photo|emoji|both|FILE] [--tokenizer FILE] [--json]",
  options: {
    ...MODEL_OPTIONS,
    data: {
      type: "string",
      arg: "FILE",
      required: "the set to evaluate on",
      help: "test set: manifest, image folder, shards, CIFAR-10, MNIST (a folder's test split)",
    },
    "knn-train": {
      type: "string",
      arg: "FILE",
      help: "labelled training set for weighted kNN (k=200, t=0.1) and a linear probe",
    },
    ...TEMPLATES_OPTION,
    "no-probe": { type: "boolean", help: "with --knn-train, skip the linear probe (kNN only)" },
    json: { type: "boolean", help: "print one JSON line" },
    ...DATASET_OPTIONS,
  },
  notes: [
    "Samples showing the same image count as one image with several captions; equal captions as one",
    "caption matching several images. Zero-shot classifies over the labels the data set carries.",
    "A bad row or an image that cannot be decoded is skipped and counted (file, line, reason; the report",
    "says how many images); --strict stops at the first.",
    "An image-only encoder (juxta train --method simclr|moco|supcon|triplet) gets kNN and the linear probe on",
    "its backbone features: --knn-train FILE, or a --data folder holding train and test splits.",
    "example:",
    "  juxta eval --model runs/emoji --data data/emoji/test.jsonl --knn-train data/emoji/train.jsonl",
  ],
  async run(v) {
    if (v.model !== undefined && isImageEncoderDir(v.model)) {
      for (const flag of ["templates", "tokenizer", "no-probe", "text-field", "caption-template"] as const)
        if (v[flag] !== undefined)
          throw new UserError(`--${flag} does not apply to ${v.model}: an image encoder has no text tower`);
      if (v.dtype !== "fp32")
        throw new UserError(
          `--dtype ${v.dtype}: eval measures it for CLIP and SigLIP models; ${v.model} is an image encoder`,
        );
      const log = new SkipLog(v.strict ?? false);
      const result = await evaluateImageModel(v.model, v.data, {
        knnTrain: v["knn-train"],
        dataset: datasetOptions(v),
        log,
      });
      reportSkips(log);
      console.log(v.json ? JSON.stringify(result) : formatImageEval(result, v.data));
      return;
    }
    const templates = resolveTemplates(v.templates);
    const log = new SkipLog(v.strict ?? false);
    const clip = await modelFlag(v);
    const run = (handle: typeof clip, skips: SkipLog) =>
      evaluateClip(handle, v.data, {
        dataset: datasetOptions(v),
        knnTrain: v["knn-train"],
        templates,
        linearProbe: v["no-probe"] ? false : undefined,
        log: skips,
      });
    let result: EvalResult;
    let drift: DtypeDrift | undefined;
    try {
      result = await run(clip, log);
      // A lower precision is reported with what it changes against fp32 on the same set.
      if (v.dtype !== "fp32") {
        const fp32 = await modelFlag({ ...v, dtype: "fp32" });
        try {
          const quiet = new SkipLog(v.strict ?? false);
          const set = await loadEvalSet(v.data, { dataset: datasetOptions(v), log: quiet });
          drift = await measureDrift(set, clip, fp32, result, await run(fp32, quiet));
        } finally {
          await fp32.dispose();
        }
      }
    } finally {
      await clip.dispose();
    }
    reportSkips(log);
    if (v.json) console.log(JSON.stringify(drift ? { ...result, dtype: v.dtype, drift } : result));
    else console.log(formatEval(result, v.data) + (drift ? `\n${formatDrift(drift)}` : ""));
  },
});
