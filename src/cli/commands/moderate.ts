/** `juxta moderate`: decisions with explanations for images under a policy, an audit log, an exit code. */
import { type ImageItem, listImages } from "../../data/image-set.js";
import { SkipLog } from "../../data/types.js";
import { appendAudit, auditContext, auditLine } from "../../moderate/audit.js";
import { type CalibrationResult, calibratePolicy, readLabeled } from "../../moderate/calibrate.js";
import { type ModerationResult, Moderator, SEVERITY } from "../../moderate/moderate.js";
import { type Decision, loadPolicy, savePolicy } from "../../moderate/policy.js";
import { calibrationReportHtml } from "../../moderate/report.js";
import { UserError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { defineCommand, type OptionSpecs, type ParsedValues } from "../command.js";
import { DATASET_OPTIONS, datasetOptions, MODEL_OPTIONS, modelFlag, reportSkips } from "../options.js";

/** Exit status when an item's decision reaches --fail-on (1 is an error). */
export const EXIT_BLOCKED = 2;

const OPTIONS = {
  ...MODEL_OPTIONS,
  policy: {
    type: "string",
    arg: "FILE",
    required: true,
    help: "the policy: concepts with prompts/examples, thresholds and actions (docs/moderation.md)",
  },
  data: {
    type: "string",
    arg: "MANIFEST",
    help: "items from a data set (JSONL/CSV/TSV, folder, shards); its captions are checked",
  },
  audit: {
    type: "string",
    arg: "FILE",
    help: "append one JSON line per item: time, decision, hits, model fingerprint, policy hash",
  },
  "fail-on": {
    type: "choice",
    choices: ["block", "review", "flag"],
    default: "block",
    help: "exit with status 2 when any item's decision is this or stricter",
  },
  json: { type: "boolean", help: "print one JSON line per item (the audit line) instead of text" },
  ...DATASET_OPTIONS,
  "target-precision": {
    type: "number",
    arg: "P",
    min: 0,
    max: 1,
    group: "calibrate:",
    help: "fit each threshold for this precision on the fit part, with the most recall",
  },
  "target-fpr": { type: "number", arg: "F", min: 0, max: 1, help: "or for this false-positive rate" },
  holdout: {
    type: "number",
    min: 0,
    max: 1,
    default: 0.3,
    help: "fraction held out for measuring, where examples carry no split",
  },
  out: {
    type: "string",
    arg: "FILE",
    defaultHelp: "overwrite --policy",
    help: "write the calibrated policy here",
  },
  report: {
    type: "string",
    arg: "FILE",
    help: "write an HTML page: ROC and precision-recall curves per concept",
  },
  "use-head": {
    type: "boolean",
    help: "score each concept by a trained linear head instead of its prompts/examples",
  },
} as const satisfies OptionSpecs;

export const moderate = defineCommand({
  name: "moderate",
  summary: "moderate images (and captions) under a policy: decision, explanation, audit log, exit code",
  usage:
    "juxta moderate --model RUN --policy POLICY.json [--data MANIFEST | IMAGE…] [--audit FILE.jsonl] " +
    "[--fail-on block|review|flag] [--json]\n       juxta moderate calibrate --model RUN --policy POLICY.json --data LABELED.jsonl " +
    "(--target-precision P | --target-fpr F) [--holdout 0.3] [--out POLICY.json] [--report REPORT.html] [--use-head]",
  options: OPTIONS,

  notes: [
    "IMAGE may also be a folder (searched recursively) or a .txt list of paths.",
    "Decisions, mildest to strictest: allow, flag, review, block; an item's is its strictest hit's.",
    "Exit status: 0 when no item reached --fail-on, 2 when one did, 1 on an error.",
    "calibrate reads JSONL lines {image, labels: [concept…], text?, split?: fit|heldout}; it prints and writes",
    "each concept's threshold with its held-out precision, recall and FPR (and the caption check's).",
  ],
  async run(v, positionals) {
    if (positionals[0] === "calibrate") {
      await calibrateCommand(v, positionals.slice(1));
      return;
    }
    const failOn: Decision = v["fail-on"];
    if (v.data === undefined && positionals.length === 0)
      throw new UserError(`give images or --data MANIFEST\nusage: ${moderate.usage}`);
    const policy = loadPolicy(v.policy);
    const log = new SkipLog(v.strict ?? false);
    const opts = { dataset: datasetOptions(v), log };
    const items: ImageItem[] = [];
    if (v.data !== undefined) items.push(...(await listImages(v.data, opts)));
    for (const p of positionals) items.push(...(await listImages(p, opts)));
    reportSkips(log);
    const model = await modelFlag(v);
    let results: ModerationResult[];
    let moderator: Moderator;
    try {
      moderator = await Moderator.create(model, policy);
      results = await moderator.moderate(items.map((it) => ({ id: it.id, image: it.ref, caption: it.text })));
    } finally {
      await model.dispose();
    }
    const ctx = auditContext(moderator, v.policy);
    if (v.audit !== undefined) appendAudit(v.audit, results, ctx);
    if (v.json) for (const r of results) console.log(JSON.stringify(auditLine(r, ctx)));
    else for (const r of results) console.log(`${r.decision.padEnd(6)}  ${r.id}\n        ${r.explanation}`);
    const counts = (["allow", "flag", "review", "block"] as const)
      .map((d) => [d, results.filter((r) => r.decision === d).length] as const)
      .filter(([, n]) => n > 0)
      .map(([d, n]) => `${n} ${d}`);
    console.error(`${results.length} items: ${counts.join(", ")}`);
    if (results.some((r) => SEVERITY[r.decision] >= SEVERITY[failOn])) process.exitCode = EXIT_BLOCKED;
  },
});

async function calibrateCommand(v: ParsedValues<typeof OPTIONS>, rest: string[]): Promise<void> {
  if (rest.length > 0) throw new UserError(`unexpected argument '${rest[0]}'`);
  if (v.data === undefined) throw new UserError("--data LABELED.jsonl is required (labeled examples)");
  if ((v["target-precision"] === undefined) === (v["target-fpr"] === undefined))
    throw new UserError("give one of --target-precision P or --target-fpr F");
  const target =
    v["target-precision"] !== undefined
      ? { precision: v["target-precision"] }
      : { fpr: v["target-fpr"] as number };
  const loaded = loadPolicy(v.policy);
  const examples = readLabeled(
    v.data,
    loaded.policy.concepts.map((c) => c.name),
  );
  const model = await modelFlag(v);
  let r: CalibrationResult;
  try {
    r = await calibratePolicy(model, loaded, examples, {
      target,
      holdout: v.holdout,
      useHead: v["use-head"],
      data: v.data,
    });
  } finally {
    await model.dispose();
  }
  const out = v.out ?? v.policy;
  savePolicy(out, r.policy);
  if (v.report !== undefined)
    writeFileAtomic(v.report, calibrationReportHtml(r, `Calibration of ${r.policy.name}`));
  console.log(`fitted on ${r.split.fit} examples, measured on ${r.split.heldOut} held out`);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);
  const width = Math.max(...r.curves.map((c) => c.name.length));
  for (const c of r.curves) {
    const p = c.chosen;
    const head = c.head ? `; head AUC ${c.head.auc.toFixed(3)}` : "";
    console.log(
      `  ${c.name.padEnd(width)}  threshold ${p.threshold.toFixed(4)}  precision ${pct(p.precision)}  recall ${pct(p.recall)}  FPR ${pct(p.fpr)}  AUC ${c.calibration.auc.toFixed(3)}${head}`,
    );
  }
  if (r.unmet.length > 0)
    console.error(`target not met on the fit part for ${r.unmet.join(", ")}: the closest point was kept`);
  if (r.downgraded.length > 0)
    console.error(
      `${r.downgraded.join(", ")}: action set from block to review, so an uncalibrated threshold blocks nothing on its own (edit the policy to accept the risk)`,
    );
  console.log(`wrote ${out}${v.report !== undefined ? ` and ${v.report}` : ""}`);
}
