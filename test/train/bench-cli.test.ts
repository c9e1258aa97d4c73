/** `juxta bench` without --suite lists the suites instead of running them all; --help lists every suite. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { bench } from "../../src/cli/commands/bench.js";
import { runCommand } from "../apps/fixtures.js";
import { projectRoot } from "../helpers.js";

const SUITES = ["engine", "train", "embed", "data", "search", "b32", "methods"];

test("bench with no flags prints the suites and runs none", async () => {
  const printed = (await runCommand(bench, [])).join("\n");
  for (const name of SUITES) assert.match(printed, new RegExp(`^  ${name} +\\S`, "m"), name);
  assert.match(printed, /usage: juxta bench --suite /);
  assert.ok(!printed.includes("# "), "no suite ran");
});

test("bench --help lists every suite with what it measures", () => {
  const main = join(projectRoot, "dist", "src", "cli", "main.js");
  const help = execFileSync(process.execPath, [main, "bench", "--help"], { encoding: "utf8" });
  for (const name of SUITES) assert.match(help, new RegExp(`^  ${name} +\\S`, "m"), name);
  assert.match(help, /PyTorch peer/);
});
