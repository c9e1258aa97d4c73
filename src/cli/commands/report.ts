/** `juxta report`: one self-contained HTML report of a training run. */

import { join } from "node:path";
import { buildRunReport } from "../../apps/report.js";
import { SkipLog } from "../../data/types.js";
import { loadClipModel } from "../../pretrained/open.js";
import { renderReport } from "../../report/index.js";
import { UserError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { defineCommand } from "../command.js";
import { DATASET_OPTIONS, datasetOptions, reportSkips } from "../options.js";

export const report = defineCommand({
  name: "report",
  summary: "write an HTML report of a run: curves, evaluations, similarities, embedding map, retrievals",
  usage: "juxta report --model RUN [--data FILE] [--out report.html] [--tokenizer FILE]",
  options: {
    model: {
      type: "string",
      arg: "RUN",
      help: [
        "a folder written by juxta train (metrics.jsonl, evals.jsonl are read if there);",
        "juxta report RUN (the folder alone) works too",
      ],
    },
    data: {
      type: "string",
      arg: "FILE",
      help: "a data set for the similarity matrix, the embedding map and top retrievals",
    },
    out: { type: "string", arg: "FILE", defaultHelp: "RUN/report.html", help: "where the HTML goes" },
    tokenizer: { type: "string", arg: "FILE", help: "use this tokenizer instead of the run's" },
    ...DATASET_OPTIONS,
  },
  notes: ["example:", "  juxta report --model runs/emoji --data data/emoji/test.jsonl"],
  async run(v, positionals) {
    // `juxta report RUN`, the form before --model, still works.
    const runs = v.model !== undefined ? [v.model, ...positionals] : positionals;
    if (runs.length !== 1) throw new UserError(`expected one RUN folder\nusage: ${report.usage}`);
    const run = runs[0] as string;
    const clip = loadClipModel(run, { tokenizer: v.tokenizer });
    const log = new SkipLog(v.strict ?? false);
    const data = await buildRunReport(clip, {
      data: v.data,
      dataset: datasetOptions(v),
      log,
      createdAt: new Date().toISOString(),
      progress: process.stderr,
    });
    reportSkips(log);
    const out = v.out ?? join(run, "report.html");
    writeFileAtomic(out, renderReport(data));
    console.log(`wrote ${out}`);
  },
});
