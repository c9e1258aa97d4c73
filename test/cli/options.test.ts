/**
 * One spec per option gives parsing, checks, defaults, old names and help: a small command declared here
 * goes through the same parser and help writer every juxta command does.
 */
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import {
  defineCommand,
  flagFor,
  formatHelp,
  formatOptions,
  parseCommand,
  runParsed,
} from "../../src/cli/command.js";
import { OptionError, UserError } from "../../src/util/errors.js";
import { closest, editDistance } from "../../src/util/suggest.js";

const seen: { values?: unknown; positionals?: string[] } = {};
const cmd = defineCommand({
  name: "demo",
  summary: "a command to test the option specs with",
  usage: "juxta demo --out DIR [--batch B] FILE…",
  intro: "What it does.",
  options: {
    out: { type: "string", arg: "DIR", required: "where it goes", help: "the folder to write" },
    batch: { type: "integer", arg: "B", min: 2, default: 64, help: "pairs per step" },
    lr: { type: "number", arg: "LR", min: 0, defaultHelp: "per method", help: "learning rate" },
    momentum: { type: "number", arg: "M", min: 0, max: 1, help: "momentum" },
    keep: { type: "choice", choices: ["first", "central"], default: "first", help: "which to keep" },
    top: { type: "integer", short: "k", arg: "K", aliases: ["k"], min: 1, help: "results" },
    "weight-decay": { type: "number", arg: "WD", help: "decay" },
    "caption-template": {
      type: "string",
      arg: "T",
      key: "template",
      aliases: ["template"],
      help: "captions",
    },
    json: { type: "boolean", group: "output:", help: "one JSON line" },
  },
  notes: ["example:", "  juxta demo --out x"],
  async run(values, positionals) {
    seen.values = values;
    seen.positionals = positionals;
    // Typed values: numbers are numbers, choices their union, required and defaulted options always there.
    const batch: number = values.batch;
    const keep: "first" | "central" = values.keep;
    const out: string = values.out;
    if (values.lr === 1)
      throw new OptionError("{lr} 1 differs from the run's {weightDecay}; see {dataset.template}");
    void [batch, keep, out];
  },
});

const parse = (argv: string[]) => parseCommand(cmd, argv);

describe("option specs", () => {
  it("parse typed values, fill defaults and keep positionals", () => {
    const { values, positionals } = parse(["--out", "o", "--batch=8", "-k", "3", "a.png", "--json", "b.png"]);
    assert.deepEqual({ ...values }, { out: "o", batch: 8, keep: "first", top: 3, json: true });
    assert.deepEqual(positionals, ["a.png", "b.png"]);
    assert.equal(parse(["--out", "o", "--momentum", "0.5"]).values.momentum, 0.5);
    // A negative number is a value, not an option.
    assert.throws(() => parse(["--out", "o", "--lr", "-1"]), /--lr expects a number ≥ 0, got '-1'/);
  });

  it("refuse bad numbers and choices naming the flag as typed", () => {
    assert.throws(
      () => parse(["--out", "o", "--batch", "1"]),
      /^UserError: --batch expects an integer ≥ 2, got '1'$/,
    );
    assert.throws(() => parse(["--out", "o", "--batch", "2.5"]), /--batch expects an integer ≥ 2/);
    assert.throws(() => parse(["--out", "o", "--lr", "fast"]), /--lr expects a number ≥ 0, got 'fast'/);
    assert.throws(
      () => parse(["--out", "o", "--momentum", "2"]),
      /--momentum expects a number in \[0, 1\], got '2'/,
    );
    assert.throws(() => parse(["--out", "o", "-k", "0"]), /-k expects an integer ≥ 1, got '0'/);
    assert.throws(
      () => parse(["--out", "o", "--keep", "centre"]),
      /--keep expects one of first, central, got 'centre'; did you mean central\?/,
    );
  });

  it("suggest the option meant for a typo, and say what is missing", () => {
    assert.throws(
      () => parse(["--out", "o", "--bacth", "8"]),
      /unknown option --bacth; did you mean --batch\?\nusage: juxta demo/,
    );
    assert.throws(() => parse(["--out", "o", "--jsn"]), /unknown option --jsn; did you mean --json\?/);
    assert.throws(() => parse(["--out", "o", "--templates", "x"]), /did you mean --caption-template\?/);
    assert.throws(
      () => parse(["--out", "o", "--zebra"]),
      (e: Error) => !e.message.includes("did you mean"),
    );
    assert.throws(() => parse(["--batch", "8"]), /^UserError: --out DIR is required \(where it goes\)$/);
    assert.throws(() => parse(["--out"]), /--out DIR: the value is missing/);
    assert.throws(() => parse(["--out", "--json"]), /the value is missing \(got --json; write --out=--json/);
    assert.throws(() => parse(["--out", "o", "--json=yes"]), /--json takes no value/);
  });

  it("accept old names as the current option, with a note", () => {
    const err = mock.method(console, "error", () => {});
    try {
      const { values } = parse(["--out", "o", "--k", "5", "--template", "a {label}"]);
      assert.equal(values.top, 5);
      assert.equal(values["caption-template"], "a {label}");
      const notes = err.mock.calls.map((c) => String(c.arguments[0]));
      assert.deepEqual(notes, [
        "juxta: --k is now --top (the old name still works)",
        "juxta: --template is now --caption-template (the old name still works)",
      ]);
    } finally {
      err.mock.restore();
    }
  });

  it("write the help from the specs: labels, defaults, required, groups", () => {
    const help = formatHelp(cmd);
    assert.match(help, /^usage: juxta demo --out DIR/);
    assert.match(help, /\n\nWhat it does\.\n\noptions:\n/);
    assert.match(help, /^ {2}--out DIR {12}the folder to write \(required\)$/m);
    assert.match(help, /^ {2}--batch B {12}pairs per step \(default: 64\)$/m);
    assert.match(help, /^ {2}--lr LR {14}learning rate \(default: per method\)$/m);
    assert.match(help, /^ {2}-k, --top K {10}results$/m);
    assert.match(help, /^ {2}--keep first\|central which to keep \(default: first\)$/m);
    assert.match(help, /^output:\n {2}--json {15}one JSON line$/m);
    assert.match(help, /\n\nexample:\n {2}juxta demo --out x$/);
    assert.ok(!help.includes("--template "), "old names are not advertised");
    // A label wider than its column stands alone; the text goes below it.
    const long = formatOptions({
      similarity: { type: "choice", choices: ["cosine", "dot", "neg_l2"], help: "s" },
    });
    assert.deepEqual(long, ["  --similarity cosine|dot|neg_l2", `${" ".repeat(23)}s`]);
  });

  it("map library option keys to this command's flags", async () => {
    assert.equal(flagFor(cmd.options, "weightDecay"), "--weight-decay");
    assert.equal(flagFor(cmd.options, "dataset.template"), "--caption-template");
    assert.equal(flagFor(cmd.options, "top"), "--top");
    assert.equal(flagFor(cmd.options, "maxGradNorm"), "--max-grad-norm");
    const e = new OptionError("{lr} 1 differs from the run's {weightDecay}");
    assert.equal(e.message, "lr 1 differs from the run's weightDecay");
    assert.deepEqual(e.options, ["lr", "weightDecay"]);
    const { values, positionals } = parse(["--out", "o", "--lr", "1"]);
    await assert.rejects(
      runParsed(cmd, values, positionals),
      (err: Error) =>
        err instanceof UserError &&
        !(err instanceof OptionError) &&
        err.message === "--lr 1 differs from the run's --weight-decay; see --caption-template",
    );
    const ok = parse(["--out", "o", "x"]);
    await runParsed(cmd, ok.values, ok.positionals);
    assert.deepEqual(seen.positionals, ["x"]);
  });
});

describe("closest name", () => {
  it("counts edits, a swap as one", () => {
    assert.equal(editDistance("batch", "batch"), 0);
    assert.equal(editDistance("bacth", "batch"), 1);
    assert.equal(editDistance("bach", "batch"), 1);
    assert.equal(editDistance("", "abc"), 3);
  });
  it("suggests only a plausible name", () => {
    assert.equal(closest("trian", ["train", "eval", "index"]), "train");
    assert.equal(closest("epo", ["epochs", "eval-data"]), "epochs");
    assert.equal(closest("zzz", ["train", "eval"]), undefined);
    assert.equal(closest("phot", ["photo", "emoji", "both"]), "photo");
  });
});
