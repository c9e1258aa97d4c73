/** `juxta dedup`: near-duplicate groups of an index and the list of items to keep. */
import { extname } from "node:path";
import {
  DEFAULT_DEDUP_THRESHOLD,
  type DedupResult,
  dedupCsv,
  groupPairs,
  type KeepRule,
  neighbourPairs,
} from "../../search/dedup.js";
import { VectorIndex } from "../../search/index.js";
import { UserError } from "../../util/errors.js";
import { writeFileAtomic, writeJsonAtomic } from "../../util/fs.js";
import { Progress } from "../../util/progress.js";
import { defineCommand } from "../command.js";

export const dedup = defineCommand({
  name: "dedup",
  summary: "group the near-duplicate items of an index (juxta index) and list one to keep per group",
  usage:
    "juxta dedup --index INDEX [--threshold 0.94 | --threshold 0.9,0.94,0.97] [--keep first|central] " +
    "[--out GROUPS.json|.csv] [--keep-list FILE] [--json]",
  intro: [
    "Two items are duplicates at cosine ≥ the threshold; a group is a connected component of that relation",
    "(found with the index's own neighbour search, batched), and one member of each group is kept.",
  ],
  options: {
    index: {
      type: "string",
      arg: "INDEX",
      required: "a folder written by juxta index",
      help: "a folder written by juxta index",
    },
    threshold: {
      type: "string",
      arg: "T",
      default: String(DEFAULT_DEDUP_THRESHOLD),
      help: [
        "similarity at or above which two items are duplicates;",
        "a comma-separated list reports the counts at each",
      ],
    },
    keep: {
      type: "choice",
      choices: ["first", "central"],
      default: "first",
      help: "first (the first in index order) or central (closest to the others)",
    },
    out: {
      type: "string",
      arg: "FILE",
      help: [
        "write the groups: .json {threshold, counts, groups, keep, remove} or .csv",
        "(group,id,keep,text); one threshold only",
      ],
    },
    "keep-list": { type: "string", arg: "FILE", help: "write the ids to keep, one a line" },
    batch: { type: "integer", arg: "N", min: 1, default: 256, help: "query rows per neighbour search" },
    json: {
      type: "boolean",
      help: "print the counts as one JSON line (a list when several thresholds are given)",
    },
  },
  async run(v) {
    const thresholds = v.threshold.split(",").map((t) => {
      const x = Number(t.trim());
      if (t.trim() === "" || !Number.isFinite(x))
        throw new UserError(`--threshold expects numbers (e.g. 0.94 or 0.9,0.94), got '${v.threshold}'`);
      return x;
    });
    const keep: KeepRule = v.keep;
    if (thresholds.length > 1 && (v.out !== undefined || v["keep-list"] !== undefined))
      throw new UserError("--out and --keep-list take one --threshold");
    if (v.out !== undefined && ![".json", ".csv"].includes(extname(v.out).toLowerCase()))
      throw new UserError(`--out must end in .json or .csv, got '${v.out}'`);
    const batch = v.batch;

    const index = VectorIndex.load(v.index);
    const { ids, vectors, metas } = index.entries();
    const bar =
      ids.length >= 1024
        ? new Progress({ label: "neighbours", total: ids.length, unit: "items", stream: process.stderr })
        : undefined;
    let done = 0;
    const pairs = await neighbourPairs(index, ids, vectors, Math.min(...thresholds), {
      batch,
      onProgress: (d) => {
        bar?.tick(d - done);
        done = d;
      },
    });
    bar?.done();
    const results = thresholds.map((t) => groupPairs(ids, pairs, t, { keep, vectors, dim: index.dim }));
    const first = results[0] as DedupResult;
    const texts = new Map<string, string>();
    ids.forEach((id, i) => {
      const text = (metas[i] as { text?: unknown } | undefined)?.text;
      if (typeof text === "string") texts.set(id, text);
    });
    if (v.out !== undefined) {
      if (extname(v.out).toLowerCase() === ".csv")
        writeFileAtomic(
          v.out,
          dedupCsv(first, (id) => texts.get(id)),
        );
      else writeJsonAtomic(v.out, first);
    }
    if (v["keep-list"] !== undefined)
      writeFileAtomic(v["keep-list"], first.keep.map((id) => `${id}\n`).join(""));
    const summary = results.map((r) => ({ threshold: r.threshold, ...r.counts }));
    if (v.json) {
      console.log(JSON.stringify(summary.length === 1 ? summary[0] : summary));
      return;
    }
    for (const s of summary)
      console.log(
        `threshold ${s.threshold}: ${s.groups} groups holding ${s.grouped} of ${s.items} items; ` +
          `keep ${s.kept}, remove ${s.removed}`,
      );
    if (thresholds.length === 1)
      for (const g of first.groups.slice(0, 10))
        console.log(
          `  ${g.ids.length} items (cosine ${g.minScore.toFixed(3)}–${g.maxScore.toFixed(3)}), keep ${g.keep}`,
        );
  },
});
