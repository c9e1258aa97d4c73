/** `juxta classify`: zero-shot labels for images, ranked with probabilities. */
import { type Classification, classifyImages, parseLabels } from "../../apps/classify.js";
import { listImages } from "../../data/image-set.js";
import { SkipLog } from "../../data/types.js";
import { resolveTemplates } from "../../pipelines/templates.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";
import { MODEL_OPTIONS, modelFlag, reportSkips, TEMPLATES_OPTION } from "../options.js";

export const classify = defineCommand({
  name: "classify",
  summary: "zero-shot classify images against labels you give (ranked, with probabilities)",
  usage:
    'juxta classify --model RUN --labels "cat,dog,…" [--templates photo|emoji|both|FILE] [--top K] [--json] IMAGE…',
  options: {
    ...MODEL_OPTIONS,
    labels: { type: "string", arg: "LIST", required: true, help: "comma-separated class names" },
    ...TEMPLATES_OPTION,
    top: {
      type: "integer",
      short: "k",
      arg: "K",
      min: 1,
      defaultHelp: "all",
      help: "labels shown per image",
    },
    json: { type: "boolean", help: "print one JSON line: [{image, ranked: [{label, prob, score}]}]" },
    strict: { type: "boolean", help: "stop at the first unreadable image instead of skipping it" },
  },
  notes: [
    "IMAGE may also be a folder (searched recursively) or a .txt list of paths. An image that cannot be",
    "decoded is skipped and counted on stderr (with its file and reason); --strict stops at it.",
    "Probabilities are the softmax of logit_scale × cosine similarity over the given labels (CLIP), or each",
    "label's sigmoid of logit_scale × cosine + logit_bias (SigLIP). Image-only encoders have no text tower",
    "to embed labels with, so they cannot classify zero-shot.",
  ],
  async run(v, positionals) {
    const labels = parseLabels(v.labels);
    if (positionals.length === 0) throw new UserError(`no images given\nusage: ${classify.usage}`);
    const top = v.top ?? labels.length;
    const templates = resolveTemplates(v.templates);
    const images = (await Promise.all(positionals.map((p) => listImages(p)))).flat();
    const log = new SkipLog(v.strict ?? false);
    const model = await modelFlag(v);
    let results: Classification[];
    try {
      if (!model.hasText)
        throw model.noTextTower(
          "zero-shot classification scores images against label texts, so it needs one; find similar images with juxta index and juxta search --image, or measure it with juxta eval (kNN, linear probe)",
        );
      results = (await classifyImages(model, images, labels, { templates, log })).map((r) => ({
        ...r,
        ranked: r.ranked.slice(0, top),
      }));
    } finally {
      await model.dispose();
    }
    reportSkips(log);
    if (v.json) {
      console.log(JSON.stringify(results));
      return;
    }
    const width = Math.max(...labels.map((l) => l.length));
    for (const r of results) {
      console.log(r.image);
      for (const s of r.ranked)
        console.log(`  ${s.label.padEnd(width)}  ${(100 * s.prob).toFixed(1).padStart(5)}%`);
    }
  },
});
