/**
 * Issue 11, cases 8 and 9: an unreadable image is skipped and counted (file and reason) by embed and
 * index, `--strict` makes it fatal, and `data check` decodes every image, reporting what training skips.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { colourImages, tempDir, tinyModel } from "../apps/fixtures.js";
import { assertOneLineError, juxta } from "./cli.js";

let work: string;
let model: string;
before(async () => {
  work = tempDir();
  model = tinyModel();
  const img = await colourImages(work);
  mkdirSync(join(work, "mixed"));
  for (const f of readdirSync(img)) copyFileSync(join(img, f), join(work, "mixed", f));
  writeFileSync(join(work, "mixed", "broken.png"), "not a png at all");
});

describe("case 8: bad images are skipped and counted", () => {
  test("embed writes the good ones and names the bad one; --strict stops", () => {
    const r = juxta(["embed", "--model", model, "--images", "mixed", "--out", "e.npy"], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote 4 image embeddings/);
    assert.match(r.stderr, /skipped 1 input \(unreadable image: 1\)\n.*broken\.png/);
    const strict = juxta(["embed", "--model", model, "--images", "mixed", "--out", "s.npy", "--strict"], {
      cwd: work,
    });
    assert.equal(strict.status, 1);
    assert.match(strict.stderr, /juxta: .*broken\.png: unreadable image: .*--strict makes bad input fatal/);
  });

  test("index adds the good ones and counts the bad one", () => {
    const r = juxta(["index", "--model", model, "--images", "mixed", "--index", "idx", "--json"], {
      cwd: work,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).added, 4);
    assert.match(r.stderr, /skipped 1 input \(unreadable image: 1\)/);
  });
});

describe("case 9: data check decodes images", () => {
  test("an unreadable image is reported as training would skip it", () => {
    const rows = [
      { image: "mixed/broken.png", text: "broken" },
      { image: "mixed/red.png", text: "red" },
      { image: "mixed/red.png", text: "red again" },
    ];
    writeFileSync(join(work, "m.jsonl"), rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const r = juxta(["data", "check", "m.jsonl", "--json"], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { samples: number; skipped: Record<string, number> };
    assert.equal(report.samples, 2);
    assert.deepEqual(report.skipped, { "unreadable image": 1 });
    assertOneLineError(
      juxta(["data", "check", "m.jsonl", "--strict"], { cwd: work }),
      /m\.jsonl:1: unreadable image: .*broken\.png/,
    );
  });
});
