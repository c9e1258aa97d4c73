#!/usr/bin/env node
/** `juxta <command> [options]`: dispatch, help, and clean errors for user mistakes. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveModelSource } from "../hub/index.js";
import { checkArgvLength } from "../io/text-input.js";
import { UserError } from "../util/errors.js";
import { isSystemError, systemErrorLine } from "../util/fs.js";
import { didYouMean } from "../util/suggest.js";
import { type Command, formatHelp, parseCommand, runParsed } from "./command.js";
import { bench } from "./commands/bench.js";
import { classify } from "./commands/classify.js";
import { data } from "./commands/data.js";
import { dedup } from "./commands/dedup.js";
import { embed } from "./commands/embed.js";
import { evaluate } from "./commands/eval.js";
import { exportCommand } from "./commands/export.js";
import { index } from "./commands/index.js";
import { jobs } from "./commands/jobs.js";
import { moderate } from "./commands/moderate.js";
import { quickstart } from "./commands/quickstart.js";
import { report } from "./commands/report.js";
import { search } from "./commands/search.js";
import { serve } from "./commands/serve.js";
import { tokenizer } from "./commands/tokenizer.js";
import { train } from "./commands/train.js";
import { worker } from "./commands/worker.js";

const commands: Command[] = [
  quickstart,
  train,
  evaluate,
  embed,
  classify,
  index,
  search,
  serve,
  dedup,
  moderate,
  worker,
  jobs,
  report,
  exportCommand,
  data,
  tokenizer,
  bench,
].map((c) => c as unknown as Command);

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "juxta: contrastive learning (CLIP and family) on ONNX Runtime",
    "",
    "usage: juxta <command> [options]    (juxta help <command>, or juxta <command> --help, for its options)",
    "       juxta --version",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

/** The version in the package.json above this file (dist/src/cli/main.js or src/cli/main.ts). */
function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

function findCommand(name: string): Command {
  const cmd = commands.find((c) => c.name === name);
  if (cmd) return cmd;
  const hint = didYouMean(
    name,
    commands.map((c) => c.name),
  );
  throw new UserError(`unknown command '${name}'${hint}\n\n${usage()}`);
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") {
    console.log(version());
    return;
  }
  if (name === "help" && rest.length > 0) {
    console.log(formatHelp(findCommand(rest[0] as string)));
    return;
  }
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return;
  }
  const cmd = findCommand(name);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(formatHelp(cmd));
    return;
  }
  const { values, positionals } = parseCommand(cmd, rest);
  // Hub names (hf:org/name) become their folders in the Hugging Face cache, downloaded where needed.
  const named = values as Record<string, unknown>;
  for (const flag of ["model", "init"])
    if (typeof named[flag] === "string") named[flag] = await resolveModelSource(named[flag]);
  await runParsed(cmd, values, positionals);
}

// Before anything opens a model: a long command line would crash onnxruntime-node (see io/text-input.ts).
Promise.resolve()
  .then(() => checkArgvLength(process.argv))
  .then(() => main(process.argv.slice(2)))
  .catch((e: unknown) => {
    if (e instanceof UserError) {
      console.error(`juxta: ${e.message}`);
      process.exit(1);
    }
    // A file-system failure (a missing folder, a full disk) is the user's to fix: one line, no stack.
    if (isSystemError(e)) {
      console.error(`juxta: ${systemErrorLine(e)}`);
      process.exit(1);
    }
    throw e;
  });
