/** `juxta report`: one self-contained HTML report of a training run. */

import { join } from "node:path";
import { DATASET_FLAGS, DATASET_HELP, datasetOptions, reportSkips } from "../../apps/flags.js";
import { buildRunReport } from "../../apps/report.js";
import { SkipLog } from "../../data/types.js";
import { loadClipModel } from "../../pretrained/open.js";
import { renderReport } from "../../report/index.js";
import { UserError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { defineCommand } from "../command.js";

export const report = defineCommand({
  name: "report",
  summary: "write an HTML report of a run: curves, evaluations, similarities, embedding map, retrievals",
  usage: "juxta report RUN [--data FILE] [--out report.html] [--tokenizer FILE]",
  help: [
    "options:",
    "  RUN                  a folder written by juxta train (metrics.jsonl, evals.jsonl are read if there)",
    "  --data FILE          a data set for the similarity matrix, the embedding map and top retrievals",
    "  --out FILE           where the HTML goes (default RUN/report.html)",
    "  --tokenizer FILE     use this tokenizer instead of the run's",
    ...DATASET_HELP,
    "example:",
    "  juxta report runs/emoji --data data/emoji/test.jsonl",
  ].join("\n"),
  options: {
    data: { type: "string" },
    out: { type: "string" },
    tokenizer: { type: "string" },
    ...DATASET_FLAGS,
  },
  async run(v, positionals) {
    if (positionals.length !== 1) throw new UserError(`expected one RUN folder\nusage: ${report.usage}`);
    const run = positionals[0] as string;
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
