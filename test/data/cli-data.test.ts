import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mock, test } from "node:test";
import { parseCommand } from "../../src/cli/command.js";
import { data } from "../../src/cli/commands/data.js";
import { UserError } from "../../src/util/errors.js";
import { png, tempDir } from "./fixtures.js";

async function run(argv: string[]): Promise<string[]> {
  const { values, positionals } = parseCommand(data, argv);
  const log = mock.method(console, "log", () => {});
  try {
    await data.run(values, positionals);
    return log.mock.calls.map((c) => String(c.arguments[0]));
  } finally {
    log.mock.restore();
  }
}

test("juxta data emoji writes the set; juxta data check reads it back", async () => {
  const dir = tempDir();
  const [line] = await run(["emoji", "--out", dir, "--json"]);
  const stats = JSON.parse(line!) as { trainRows: number; testRows: number };
  const [report] = await run(["check", dir, "--split", "test", "--json"]);
  const checked = JSON.parse(report!) as { samples: number; skipped: Record<string, number> };
  assert.equal(checked.samples, stats.testRows);
  assert.deepEqual(checked.skipped, {});
});

test("juxta data check reports skips; --strict and bad flags are UserErrors", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "a.png"), await png());
  const file = join(dir, "m.jsonl");
  writeFileSync(file, '{"image": "a.png", "text": "ok", "label": "x"}\n{"image": "b.png", "text": "gone"}\n');
  const out = await run(["check", file]);
  assert.equal(out[0], "1 samples, 1 with captions, 1 labels");
  assert.match(
    out.join("\n"),
    /skipped 1 input \(missing image: 1\)\n {2}.*m\.jsonl:2 \(field 'image'\): missing image/,
  );
  await assert.rejects(run(["check", file, "--strict"]), UserError);
  await assert.rejects(
    run(["check", file, "--format", "xml"]),
    /--format expects one of jsonl, csv, .*, got 'xml'/,
  );
  await assert.rejects(run(["emoji"]), /needs --out DIR/);
  await assert.rejects(run(["frobnicate"]), /expected 'emoji', 'fashion-mnist' or 'check'/);
});
