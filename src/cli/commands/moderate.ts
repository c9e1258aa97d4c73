/** `juxta moderate`: decisions with explanations for images under a policy, an audit log, an exit code. */
import {
  DATASET_FLAGS,
  DATASET_HELP,
  datasetOptions,
  MODEL_HELP,
  modelFlag,
  reportSkips,
} from "../../apps/flags.js";
import { type ImageItem, listImages } from "../../apps/images.js";
import { SkipLog } from "../../data/types.js";
import { appendAudit, auditContext, auditLine } from "../../moderate/audit.js";
import { isDecision, type ModerationResult, Moderator, SEVERITY } from "../../moderate/moderate.js";
import { type Decision, loadPolicy } from "../../moderate/policy.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";

/** Exit status when an item's decision reaches --fail-on (1 is an error). */
export const EXIT_BLOCKED = 2;

export const moderate = defineCommand({
  name: "moderate",
  summary: "moderate images (and captions) under a policy: decision, explanation, audit log, exit code",
  usage:
    "juxta moderate --model RUN --policy POLICY.json [--data MANIFEST | IMAGE…] [--audit FILE.jsonl] " +
    "[--fail-on block|review|flag] [--json]",
  help: [
    "options:",
    ...MODEL_HELP,
    "  --policy FILE        the policy: concepts with prompts/examples, thresholds and actions (docs/moderation.md)",
    "  --data MANIFEST      items from a data set (JSONL/CSV/TSV, folder, shards); its captions are checked",
    "  --audit FILE         append one JSON line per item: time, decision, hits, model fingerprint, policy hash",
    "  --fail-on ACTION     exit with status 2 when any item's decision is this or stricter (default block)",
    "  --json               print one JSON line per item (the audit line) instead of text",
    ...DATASET_HELP,
    "IMAGE may also be a folder (searched recursively) or a .txt list of paths.",
    "Decisions, mildest to strictest: allow, flag, review, block; an item's is its strictest hit's.",
    "Exit status: 0 when no item reached --fail-on, 2 when one did, 1 on an error.",
  ].join("\n"),
  options: {
    model: { type: "string" },
    tokenizer: { type: "string" },
    policy: { type: "string" },
    data: { type: "string" },
    audit: { type: "string" },
    "fail-on": { type: "string" },
    json: { type: "boolean" },
    ...DATASET_FLAGS,
  },
  async run(v, positionals) {
    if (v.policy === undefined) throw new UserError("--policy POLICY.json is required");
    const failOn = (v["fail-on"] ?? "block") as Decision;
    if (!isDecision(failOn) || failOn === "allow")
      throw new UserError(`--fail-on expects block, review or flag, got '${v["fail-on"]}'`);
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
