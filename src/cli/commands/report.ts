/** `juxta report`: one self-contained HTML report of a training run. */

import { join } from "node:path";
import { buildRunReport } from "../../apps/report.js";
import { SkipLog } from "../../data/types.js";
import { loadModel } from "../../pretrained/open.js";
import { renderReport } from "../../report/index.js";
import { UserError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { defineCommand } from "../command.js";
import { DATASET_OPTIONS, datasetOptions, reportSkips } from "../options.js";

export const report = defineCommand({
  name: "report",
  summary: "write an HTML report of a run: curves, evaluations, similarities, embedding map, retrievals",
  usage: "juxta report --model RUN [--data FILE] [--knn-train FILE] [--out report.html] [--tokenizer FILE]",
  options: {
    model: {
      type: "string",
      arg: "RUN",
      help: [
        "a folder written by juxta train, any method (metrics.jsonl, evals.jsonl, eval.json and",
        "state.json are read if there); juxta report RUN (the folder alone) works too",
      ],
    },
    data: {
      type: "string",
      arg: "FILE",
      help: [
        "a held-out set: the final model is evaluated on it (unless RUN/eval.json is of its",
        "step); it gives the embedding map, the retrievals and (CLIP, SigLIP) the similarities",
      ],
    },
    "knn-train": {
      type: "string",
      arg: "FILE",
      help: [
        "labelled training images for kNN and linear-probe accuracy (image-only methods",
        "need it, or a --data folder holding train and test splits)",
      ],
    },
    out: { type: "string", arg: "FILE", defaultHelp: "RUN/report.html", help: "where the HTML goes" },
    tokenizer: { type: "string", arg: "FILE", help: "use this tokenizer instead of the run's" },
    ...DATASET_OPTIONS,
  },
  notes: [
    "examples:",
    "  juxta report --model runs/emoji --data data/emoji/test.jsonl",
    "  juxta report --model runs/simclr --data data/shapes/test.jsonl --knn-train data/shapes/train.jsonl",
  ],
  async run(v, positionals) {
    // `juxta report RUN`, the form before --model, still works.
    const runs = v.model !== undefined ? [v.model, ...positionals] : positionals;
    if (runs.length !== 1) throw new UserError(`expected one RUN folder\nusage: ${report.usage}`);
    const run = runs[0] as string;
    const model = loadModel(run, { tokenizer: v.tokenizer });
    const log = new SkipLog(v.strict ?? false);
    const data = await buildRunReport(model, {
      data: v.data,
      knnTrain: v["knn-train"],
      dataset: datasetOptions(v),
      log,
      progress: process.stderr,
    });
    reportSkips(log);
    const out = v.out ?? join(run, "report.html");
    writeFileAtomic(out, renderReport(data));
    console.log(`wrote ${out}`);
  },
});
