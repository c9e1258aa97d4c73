/** `juxta data emoji|check`: build the emoji quickstart data set, or read a data set and report on it. */
import { buildEmojiDataset } from "../../data/emoji.js";
import { openDataset } from "../../data/open.js";
import { type DatasetFormat, FORMATS } from "../../data/options.js";
import { SkipLog } from "../../data/types.js";
import { UserError } from "../../util/errors.js";
import { defineCommand, numberFlag } from "../command.js";

export const data = defineCommand({
  name: "data",
  summary: "build the emoji quickstart data set, or check that a data set reads cleanly",
  usage:
    "juxta data emoji --out DIR [--holdout 0.1] [--absolute]\n" +
    "       juxta data check PATH [--format F] [--image-field P] [--text-field P] [--label-field P] " +
    "[--template T] [--split train|test] [--strict] [--json]",
  help: [
    "examples:",
    "  juxta data emoji --out data/emoji        # train.jsonl, test.jsonl, README.md",
    "  juxta data check data/emoji              # reads data/emoji/train.jsonl",
    "  juxta data check captions.jsonl --text-field 'captions[*].text'",
    `formats: ${FORMATS.join(", ")} (detected from the path unless --format is given)`,
  ].join("\n"),
  options: {
    out: { type: "string" },
    holdout: { type: "string" },
    absolute: { type: "boolean" },
    format: { type: "string" },
    "image-field": { type: "string" },
    "text-field": { type: "string" },
    "label-field": { type: "string" },
    template: { type: "string" },
    split: { type: "string" },
    strict: { type: "boolean" },
    json: { type: "boolean" },
  },
  async run(values, positionals) {
    const [action, ...rest] = positionals;
    if (action === "emoji") {
      if (!values.out) throw new UserError("juxta data emoji needs --out DIR");
      const stats = await buildEmojiDataset(values.out, {
        holdout: numberFlag(values.holdout, "holdout", 0.1),
        absolutePaths: values.absolute ?? false,
      });
      if (values.json) console.log(JSON.stringify(stats));
      else
        console.log(
          `wrote ${stats.trainFile} (${stats.trainRows} rows, ${stats.trainConcepts} emoji) and ` +
            `${stats.testFile} (${stats.testRows} rows, ${stats.testConcepts} emoji)`,
        );
      return;
    }
    if (action === "check") {
      if (rest.length !== 1) throw new UserError("juxta data check needs one PATH");
      if (values.format !== undefined && !(FORMATS as readonly string[]).includes(values.format))
        throw new UserError(`unknown --format '${values.format}'; choose one of: ${FORMATS.join(", ")}`);
      if (values.split !== undefined && values.split !== "train" && values.split !== "test")
        throw new UserError(`--split expects train or test, got '${values.split}'`);
      const log = new SkipLog(values.strict ?? false);
      const samples = await openDataset(
        rest[0]!,
        {
          format: values.format as DatasetFormat | undefined,
          imageField: values["image-field"],
          textField: values["text-field"],
          labelField: values["label-field"],
          template: values.template,
          split: values.split as "train" | "test" | undefined,
        },
        log,
      );
      const labels = new Map<string, number>();
      for (const s of samples) if (s.label !== undefined) labels.set(s.label, (labels.get(s.label) ?? 0) + 1);
      const captioned = samples.filter((s) => s.text !== undefined).length;
      if (values.json) {
        const skipped = Object.fromEntries(log.byReason);
        console.log(
          JSON.stringify({ samples: samples.length, captioned, labels: Object.fromEntries(labels), skipped }),
        );
        return;
      }
      console.log(`${samples.length} samples, ${captioned} with captions, ${labels.size} labels`);
      const first = samples[0];
      if (first) console.log(`first: ${JSON.stringify(first.text)}${first.label ? ` [${first.label}]` : ""}`);
      const summary = log.summary();
      if (summary) console.log(summary);
      return;
    }
    throw new UserError(
      `juxta data: expected 'emoji' or 'check', got '${action ?? ""}'\nusage: ${data.usage}`,
    );
  },
});
