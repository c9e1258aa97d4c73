/**
 * `juxta data emoji|fashion-mnist|check`: build the emoji quickstart data set, write Fashion-MNIST (or a
 * balanced slice of it) with class names, or read a data set and report on it.
 */

import { decodeCheck } from "../../data/check.js";
import { buildEmojiDataset, DEFAULT_EMOJI_CAPTIONS, EMOJI_CAPTIONS } from "../../data/emoji.js";
import { FASHION_MNIST_DIR, writeFashionMnist } from "../../data/fashion-mnist.js";
import { openDataset } from "../../data/open.js";
import { FORMATS } from "../../data/options.js";
import { SkipLog } from "../../data/types.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";
import { DATASET_OPTIONS, datasetOptions } from "../options.js";

export const data = defineCommand({
  name: "data",
  summary: "build the emoji or Fashion-MNIST data set, or check that a data set reads cleanly",
  usage:
    "juxta data emoji --out DIR [--holdout 0.1] [--absolute] [--captions several|one]\n" +
    "       juxta data fashion-mnist --out DIR [--train N] [--test N] [--from DIR]\n" +
    "       juxta data check PATH [--format F] [--image-field P] [--text-field P] [--label-field P] " +
    "[--caption-template T] [--split train|test] [--strict] [--json]",
  options: {
    out: {
      type: "string",
      arg: "DIR",
      group: "emoji:",
      help: "where train.jsonl, test.jsonl and README.md go",
    },
    holdout: {
      type: "number",
      arg: "F",
      min: 0,
      max: 1,
      default: 0.1,
      help: "the share of emoji held out for the test set",
    },
    absolute: { type: "boolean", help: "write absolute image paths (default: relative to the manifest)" },
    captions: {
      type: "choice",
      choices: EMOJI_CAPTIONS,
      default: DEFAULT_EMOJI_CAPTIONS,
      help: "training captions: several per image (one sampled per step), or the one caption",
    },
    train: {
      type: "integer",
      arg: "N",
      group: "fashion-mnist:",
      min: 10,
      help: "keep the first N/10 training images of each class (default all 60,000)",
    },
    test: { type: "integer", arg: "N", min: 10, help: "the same for the test split (default 10,000)" },
    from: { type: "string", arg: "DIR", help: `the IDX files' folder (default ${FASHION_MNIST_DIR})` },
    format: {
      type: "choice",
      choices: FORMATS,
      arg: "F",
      group: "check:",
      help: [`one of ${FORMATS.join(", ")}`, "(detected from the path unless given)"],
    },
    ...DATASET_OPTIONS,
    split: { type: "choice", choices: ["train", "test"], help: "which split of a folder to read" },
    json: { type: "boolean", help: "print one JSON line {samples, captioned, labels, skipped}" },
  },
  notes: [
    "examples:",
    "  juxta data emoji --out data/emoji        # train.jsonl, test.jsonl, README.md",
    "  juxta data check data/emoji              # reads data/emoji/train.jsonl",
    "  juxta data fashion-mnist --out data/fmnist --train 6000 --test 2000",
    "  juxta data check /usr/share/datasets/fashion-mnist --split test   # class words, not digits",
    "  juxta data check captions.jsonl --text-field 'captions[*].text'",
  ],
  async run(values, positionals) {
    const [action, ...rest] = positionals;
    if (action === "emoji") {
      if (!values.out) throw new UserError("juxta data emoji needs --out DIR");
      const stats = await buildEmojiDataset(values.out, {
        holdout: values.holdout,
        absolutePaths: values.absolute ?? false,
        captions: values.captions,
      });
      if (values.json) console.log(JSON.stringify(stats));
      else
        console.log(
          `wrote ${stats.trainFile} (${stats.trainRows} rows, ${stats.trainConcepts} emoji) and ` +
            `${stats.testFile} (${stats.testRows} rows, ${stats.testConcepts} emoji)`,
        );
      return;
    }
    if (action === "fashion-mnist") {
      if (!values.out) throw new UserError("juxta data fashion-mnist needs --out DIR");
      const stats = await writeFashionMnist(values.out, {
        from: values.from,
        train: values.train,
        test: values.test,
      });
      if (values.json) console.log(JSON.stringify(stats));
      else
        console.log(
          `wrote ${stats.dir}: ${stats.trainImages} training and ${stats.testImages} test images, classes.txt, README.md`,
        );
      return;
    }
    if (action === "check") {
      if (rest.length !== 1) throw new UserError("juxta data check needs one PATH");
      const log = new SkipLog(values.strict ?? false);
      const listed = await openDataset(
        rest[0]!,
        { ...datasetOptions(values), format: values.format, split: values.split },
        log,
      );
      // Decoded as training decodes them: the skips reported are exactly the rows training would skip.
      const samples = await decodeCheck(listed, log);
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
      `juxta data: expected 'emoji', 'fashion-mnist' or 'check', got '${action ?? ""}'\nusage: ${data.usage}`,
    );
  },
});
