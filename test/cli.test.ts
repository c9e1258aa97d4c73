/** The CLI lists every command that has a file in src/cli/commands, and user mistakes print no stack. */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
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

const juxta = (...argv: string[]) => spawnSync(process.execPath, [main, ...argv], { encoding: "utf8" });

test("juxta --version prints the package's version", () => {
  const { version } = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as {
    version: string;
  };
  for (const flag of ["--version", "-v"]) {
    const r = juxta(flag);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `${version}\n`);
  }
});

test("juxta help CMD is CMD --help, written from the option specs", () => {
  const help = juxta("help", "train").stdout;
  assert.equal(help, juxta("train", "--help").stdout);
  assert.match(help, /^usage: juxta train /);
  assert.match(help, /^ {2}--batch B {12}pairs .* \(default: 128\)$/m);
  // Defaults that differ by method are listed per method, from the same records the library reads.
  assert.match(
    help,
    /^ {2}--lr LR .* \(default: clip\/siglip 0\.0005, simclr\/moco\/supcon\/triplet 0\.001\)$/m,
  );
  assert.match(help, /^ {2}--out RUN {12}run folder: .* \(required\)$/m);
  assert.match(help, /^clip and siglip:$/m);
  for (const c of ["search", "classify"]) assert.match(juxta("help", c).stdout, /^ {2}-k, --top K /m, c);
});

test("typos get the name meant: options and commands", () => {
  const option = juxta("train", "--bach", "32", "--out", "x");
  assert.equal(option.status, 1);
  assert.match(option.stderr, /^juxta: unknown option --bach; did you mean --batch\?\nusage: juxta train /);
  const command = juxta("trian");
  assert.equal(command.status, 1);
  assert.match(command.stderr, /^juxta: unknown command 'trian'; did you mean train\?/);
  assert.match(juxta("help", "serach").stderr, /did you mean search\?/);
  assert.match(
    juxta("classify", "--labels", "a", "--top", "0").stderr,
    /^juxta: --top expects an integer ≥ 1/,
  );
});
