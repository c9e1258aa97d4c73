/**
 * Issue 11, cases 8 and 9: an unreadable image is skipped and counted (file and reason) by embed, index,
 * eval and classify, `--strict` makes it fatal, a training run's held-out set is decoded before the first
 * step, and `data check` decodes every image, reporting what training skips.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { trainClip } from "../../src/train/loop.js";
import { colourImages, tempDir, tinyConfig, tinyModel, writeJsonl } from "../apps/fixtures.js";
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

/** A labelled, captioned set: the four colours (twice each) and the broken image in row 3. */
function evalSet(): string {
  const rows = ["red", "green", "broken", "blue", "yellow"].flatMap((c) => [
    { image: `mixed/${c}.png`, text: `a ${c} square`, label: c },
  ]);
  return writeJsonl(join(work, "eval.jsonl"), [...rows, ...rows.map((r) => ({ ...r, text: `${r.text}!` }))]);
}

describe("case 8: eval and classify skip bad images too", () => {
  test("eval reports the skip with file and line, and counts it; --strict stops", () => {
    const data = evalSet();
    const r = juxta(["eval", "--model", model, "--data", data], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /skipped 1 input \(unreadable image: 1\)\n {2}.*eval\.jsonl:3: unreadable image/);
    assert.match(
      r.stdout,
      /8 samples, 4 images, 8 distinct captions, 4 labelled \(1 unreadable image skipped\)/,
    );
    const json = juxta(["eval", "--model", model, "--data", data, "--json"], { cwd: work });
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).counts, {
      samples: 8,
      images: 4,
      texts: 8,
      labelled: 4,
      skipped: 1,
    });
    assertOneLineError(
      juxta(["eval", "--model", model, "--data", data, "--strict"], { cwd: work }),
      /eval\.jsonl:3: unreadable image: .*--strict makes bad input fatal/,
    );
  });

  test("classify ranks the good images and names the bad one; --strict stops", () => {
    const r = juxta(["classify", "--model", model, "--labels", "red,blue", "--json", "mixed"], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
    const results = JSON.parse(r.stdout) as { image: string }[];
    assert.equal(results.length, 4);
    assert.ok(results.every((x) => !x.image.endsWith("broken.png")));
    assert.match(r.stderr, /skipped 1 input \(unreadable image: 1\)\n.*broken\.png: unreadable image/);
    assertOneLineError(
      juxta(["classify", "--model", model, "--labels", "red,blue", "--strict", "mixed"], { cwd: work }),
      /broken\.png: unreadable image: .*--strict makes bad input fatal/,
    );
  });
});

describe("case 8: a training run's held-out set is checked before the first step", () => {
  const train = () =>
    writeJsonl(
      join(work, "train.jsonl"),
      ["red", "green", "blue", "yellow"].flatMap((c) => [
        { image: `mixed/${c}.png`, text: `a ${c} square` },
        { image: `mixed/${c}.png`, text: `the ${c} one` },
      ]),
    );

  test("juxta train --eval-data with a bad image and --strict stops before training", () => {
    const out = join(work, "strict-run");
    const r = juxta(
      ["train", "--data", train(), "--eval-data", evalSet(), "--out", out, "--preset", "tiny", "--strict"],
      { cwd: work },
    );
    // Training's set-up lines come first; the failure is one line at the end.
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr.trimEnd().split("\n").at(-1)!,
      /^juxta: .*eval\.jsonl:3: unreadable image: .*--strict makes bad input fatal\)$/,
    );
    assert.doesNotMatch(r.stderr, /compiling|decode/, "stopped before the training data and the step");
    assert.equal(existsSync(join(out, "metrics.jsonl")), false, "no step was taken");
  });

  test("train() skips and counts it up front; every evaluation says so", async () => {
    const out = join(work, "run");
    const said: string[] = [];
    const r = await trainClip({
      data: train(),
      out,
      config: tinyConfig(600),
      batch: 4,
      epochs: 1,
      evalData: evalSet(),
      stream: { write: (t: string) => said.push(t) },
    });
    assert.equal(r.steps, 2);
    const text = said.join("");
    assert.match(
      text,
      /eval\.jsonl: skipped 1 input \(unreadable image: 1\)\n.*eval\.jsonl:3: unreadable image/,
    );
    assert.ok(
      text.indexOf("unreadable image") < text.indexOf("compiling the training step"),
      "reported before the step is compiled",
    );
    const evals = readFileSync(join(out, "evals.jsonl"), "utf8").trim().split("\n");
    assert.ok(evals.length >= 2);
    for (const line of evals) assert.equal(JSON.parse(line).counts.skipped, 1);
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
