#!/usr/bin/env node
/** `juxta <command> [options]`: dispatch, help, and clean errors for user mistakes. */
import { resolveModelSource } from "../hub/index.js";
import { UserError } from "../util/errors.js";
import { type Command, parseCommand } from "./command.js";
import { bench } from "./commands/bench.js";
import { classify } from "./commands/classify.js";
import { data } from "./commands/data.js";
import { dedup } from "./commands/dedup.js";
import { embed } from "./commands/embed.js";
import { evaluate } from "./commands/eval.js";
import { exportCommand } from "./commands/export.js";
import { index } from "./commands/index.js";
import { jobs } from "./commands/jobs.js";
import { quickstart } from "./commands/quickstart.js";
import { report } from "./commands/report.js";
import { search } from "./commands/search.js";
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
  dedup,
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
    "usage: juxta <command> [options]    (juxta <command> --help for its options)",
    "",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) throw new UserError(`unknown command '${name}'\n\n${usage()}`);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(`usage: ${cmd.usage}\n\n${cmd.summary}${cmd.help ? `\n\n${cmd.help}` : ""}`);
    return;
  }
  const { values, positionals } = parseCommand(cmd, rest);
  // Hub names (hf:org/name) become their folders in the Hugging Face cache, downloaded where needed.
  for (const flag of ["model", "init"])
    if (typeof values[flag] === "string") values[flag] = await resolveModelSource(values[flag]);
  await cmd.run(values, positionals);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UserError) {
    console.error(`juxta: ${e.message}`);
    process.exit(1);
  }
  throw e;
});
