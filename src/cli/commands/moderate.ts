/** `juxta moderate`: decisions with explanations for images under a policy, an audit log, an exit code. */
import { type ImageItem, listImages } from "../../apps/images.js";
import { SkipLog } from "../../data/types.js";
import { appendAudit, auditContext, auditLine } from "../../moderate/audit.js";
import { type ModerationResult, Moderator, SEVERITY } from "../../moderate/moderate.js";
import { type Decision, loadPolicy } from "../../moderate/policy.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";
import { DATASET_OPTIONS, datasetOptions, MODEL_OPTIONS, modelFlag, reportSkips } from "../options.js";

/** Exit status when an item's decision reaches --fail-on (1 is an error). */
export const EXIT_BLOCKED = 2;

export const moderate = defineCommand({
  name: "moderate",
  summary: "moderate images (and captions) under a policy: decision, explanation, audit log, exit code",
  usage:
    "juxta moderate --model RUN --policy POLICY.json [--data MANIFEST | IMAGE…] [--audit FILE.jsonl] " +
    "[--fail-on block|review|flag] [--json]",
  options: {
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
  },
  notes: [
    "IMAGE may also be a folder (searched recursively) or a .txt list of paths.",
    "Decisions, mildest to strictest: allow, flag, review, block; an item's is its strictest hit's.",
    "Exit status: 0 when no item reached --fail-on, 2 when one did, 1 on an error.",
  ],
  async run(v, positionals) {
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
