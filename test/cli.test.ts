/** The CLI lists every command that has a file in src/cli/commands, and user mistakes print no stack. */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { projectRoot } from "./helpers.js";

const main = join(projectRoot, "dist", "src", "cli", "main.js");

test("every command file is registered (juxta --help lists it)", () => {
  const help = execFileSync(process.execPath, [main, "--help"], { encoding: "utf8" });
  const names = readdirSync(join(projectRoot, "src", "cli", "commands")).map((f) => f.replace(/\.ts$/, ""));
  for (const name of names) assert.match(help, new RegExp(`^  ${name} `, "m"), `'${name}' is not registered`);
});

test("a user mistake prints one clear line, not a stack trace", () => {
  const r = spawnSync(
    process.execPath,
    [main, "eval", "--model", "/nonexistent/model", "--data", "x.jsonl"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^juxta: .*\/nonexistent\/model/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
