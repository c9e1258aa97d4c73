/** `juxta bench --suite methods`: SimCLR and MoCo step times against the encoder's forward + backward. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { bench } from "../../src/cli/commands/bench.js";
import { runCommand } from "../apps/fixtures.js";

test("the methods suite prints one JSON line with each method's step, baseline and ratio", async () => {
  const lines = await runCommand(bench, ["--suite", "methods", "--json", "--batch", "4", "--steps", "1"]);
  assert.equal(lines.length, 1);
  const r = JSON.parse(lines[0]!) as Record<string, number | string>;
  assert.equal(r.suite, "methods");
  assert.equal(r.preset, "resnet-tiny");
  assert.equal(r.images_per_step, 8);
  for (const m of ["simclr", "moco"]) {
    const step = r[`${m}_step_ms`] as number;
    const base = r[`${m}_encoder_fwd_bwd_ms`] as number;
    assert.ok(step > 0 && base > 0, `${m}: ${step} ms vs ${base} ms`);
    assert.ok(Math.abs((r[`${m}_ratio`] as number) - step / base) < 0.01 + 0.01 * (step / base));
  }
  await assert.rejects(
    runCommand(bench, ["--suite", "methods", "--preset", "tiny"]),
    /unknown image encoder preset 'tiny'/,
  );
});
