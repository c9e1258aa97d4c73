/**
 * Calibration: exact thresholds on constructed scores; then `juxta moderate calibrate` on the shapes model
 * (labeled by colour), the written policy, the caption check's AUC, and the report page in Chromium.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, before, describe, it } from "node:test";
import { moderate } from "../../src/cli/commands/moderate.js";
import { fitThreshold, operatingPoint, rocAuc } from "../../src/moderate/curves.js";
import { loadPolicy } from "../../src/moderate/policy.js";
import { runCommand } from "../apps/fixtures.js";
import { type ShapeItem, tempDir, trainShapesModel, writeShapes } from "./fixtures.js";

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

describe("thresholds from labeled scores", () => {
  // Separable: positives 0.9, 0.8, 0.7, 0.6; negatives 0.5, 0.4, 0.3, 0.2, 0.1.
  const scores = [0.9, 0.1, 0.8, 0.5, 0.7, 0.2, 0.6, 0.4, 0.3];
  const labels = [true, false, true, false, true, false, true, false, false];

  it("fits halfway between the lowest score fired and the next below", () => {
    const fit = fitThreshold(scores, labels, { precision: 0.95 });
    assert.equal(fit.met, true);
    near(fit.point.threshold, 0.55);
    assert.deepEqual([fit.point.tp, fit.point.fp, fit.point.fn, fit.point.tn], [4, 0, 0, 5]);
    assert.equal(rocAuc(scores, labels), 1);
    // Precision 0.8 lets one negative in (4 of 5) for no more recall, so the separating cut stays.
    near(fitThreshold(scores, labels, { precision: 0.8 }).point.threshold, 0.55);
    // A false-positive rate of 0.2 would allow one negative, but it buys no recall: the cut stays.
    const fpr = fitThreshold(scores, labels, { fpr: 0.2 });
    near(fpr.point.threshold, 0.55);
    assert.equal(fpr.point.fp, 0);
    near(fitThreshold(scores, labels, { fpr: 0 }).point.threshold, 0.55);
  });

  it("overlapping scores: the most recall that meets the target, ties fire together, an unmet target says so", () => {
    const s = [0.9, 0.8, 0.8, 0.7, 0.6, 0.5];
    const y = [true, false, true, true, false, true];
    // Thresholds: 0.9 → P 1 (1/1); 0.8 → 2/3; 0.7 → 3/4; 0.6 → 3/5; 0.5 → 4/6.
    near(fitThreshold(s, y, { precision: 0.75 }).point.threshold, 0.65);
    near(fitThreshold(s, y, { precision: 0.7 }).point.threshold, 0.65);
    near(fitThreshold(s, y, { precision: 0.9 }).point.threshold, 0.85);
    assert.equal(operatingPoint(s, y, 0.8).tp, 2);
    // Negatives 0.6 and 0.8 (two); FPR ≤ 0.5 allows one: 0.7 is the most recall with one (3 of 4).
    near(fitThreshold(s, y, { fpr: 0.5 }).point.threshold, 0.65);
    near(fitThreshold(s, y, { fpr: 0 }).point.threshold, 0.85);
    // Pairs a positive wins: 0.9 beats both, 0.8 ties 0.8 (half) and beats 0.6, 0.7 beats 0.6: 4.5 of 8.
    assert.equal(rocAuc(s, y), 4.5 / 8);
    const none = fitThreshold([0.9, 0.1], [false, true], { precision: 0.9 });
    assert.equal(none.met, false);
  });
});

describe("juxta moderate calibrate", () => {
  let dir = "";
  let run = "";
  let items: ShapeItem[] = [];
  let labeled = "";
  let policyFile = "";

  before(async () => {
    dir = tempDir();
    const shapes = await writeShapes(dir, 3);
    items = shapes.items;
    run = await trainShapesModel(dir, shapes.manifest);
    // Fit on variants 0 and 1, hold out variant 2 (like calibrating on one artist, testing on another).
    labeled = join(dir, "labeled.jsonl");
    writeFileSync(
      labeled,
      items
        .map((i) =>
          JSON.stringify({
            image: i.image,
            labels: i.colour === "red" ? ["red"] : i.colour === "blue" ? ["blue"] : [],
            text: i.text,
            split: i.image.endsWith("-2.png") ? "heldout" : "fit",
          }),
        )
        .join("\n"),
    );
    policyFile = join(dir, "policy.json");
    writeFileSync(
      policyFile,
      JSON.stringify({
        name: "colours",
        templates: "none",
        concepts: [
          { name: "red", prompts: ["a red square", "a red disc"], threshold: 0.5, action: "block" },
          { name: "blue", prompts: ["a blue square"], threshold: 0.5, action: "review" },
        ],
        caption: { threshold: 0 },
      }),
    );
  });

  afterEach(() => {
    process.exitCode = 0;
  });

  it("writes thresholds with their held-out precision, recall and FPR, and the caption check's AUC", async () => {
    const out = join(dir, "calibrated.json");
    const report = join(dir, "report.html");
    const printed = await runCommand(moderate, [
      "calibrate",
      "--model",
      run,
      "--policy",
      policyFile,
      "--data",
      labeled,
      "--target-precision",
      "0.95",
      "--out",
      out,
      "--report",
      report,
    ]);
    assert.equal(printed[0], "fitted on 16 examples, measured on 8 held out");
    const p = loadPolicy(out).policy;
    const red = p.concepts[0]!;
    const cal = red.calibration!;
    assert.deepEqual(cal.target, { precision: 0.95 });
    assert.deepEqual(cal.split, { fit: 16, heldOut: 8 });
    // The trained model separates colour: every held-out red image fires, nothing else.
    assert.deepEqual([cal.heldOut.tp, cal.heldOut.fp, cal.heldOut.fn, cal.heldOut.tn], [2, 0, 0, 6]);
    assert.equal(cal.heldOut.precision, 1);
    assert.equal(cal.auc, 1);
    assert.equal(red.threshold, cal.heldOut.threshold);
    assert.notEqual(red.threshold, 0.5);
    // The threshold is the fitted one: halfway between the lowest red score and the highest other one (fit part).
    const head = cal.head as { auc: number; heldOut: { recall: number } };
    assert.ok(head.auc > 0.9, `head AUC ${head.auc}`);
    const caption = p.caption!.calibration!;
    // This model sees colour, not shape: a caption naming the other shape in the same colour is a mismatch
    // it cannot tell, so the AUC is well above chance but not 1.
    assert.ok((caption.auc as number) > 0.6, `caption AUC ${caption.auc}`);
    assert.equal(typeof caption.aucAdversarial, "number");
    assert.deepEqual(caption.target, { fpr: 0.05 });
    assert.match(
      printed[1]!,
      /^ {2}red +threshold -?[\d.]+ +precision +100\.0% +recall +100\.0% +FPR +0\.0% +AUC 1\.000; head AUC/,
    );
    const html = readFileSync(report, "utf8");
    assert.equal((html.match(/data-point="operating"/g) ?? []).length, 2 * 3);
    assert.match(html, /<section data-concept="caption check">/);
    // The original policy is untouched when --out is given.
    assert.equal(loadPolicy(policyFile).policy.concepts[0]?.threshold, 0.5);
  });

  it("a target no threshold meets keeps the closest point and turns block into review", async () => {
    // Each red image twice, once labelled red and once not: at any threshold both fire, so precision ≤ 0.5.
    const contradictory = join(dir, "contradictory.jsonl");
    const lines = readFileSync(labeled, "utf8").split("\n");
    const copies = lines
      .filter((l) => l.includes('"labels":["red"]'))
      .map((l) => l.replace('"labels":["red"]', '"labels":[]'));
    writeFileSync(contradictory, [...lines, ...copies].join("\n"));
    const out = join(dir, "contradictory-policy.json");
    await runCommand(moderate, [
      "calibrate",
      "--model",
      run,
      "--policy",
      policyFile,
      "--data",
      contradictory,
      "--target-precision",
      "0.95",
      "--out",
      out,
    ]);
    const [red, blue] = loadPolicy(out).policy.concepts;
    assert.equal(red?.calibration?.met, false);
    assert.ok((red?.calibration?.heldOut.precision ?? 1) <= 0.5);
    assert.equal(red?.action, "review");
    assert.equal(red?.calibration?.actionBefore, "block");
    // A concept that meets its target keeps its action.
    assert.equal(blue?.calibration?.met, true);
    assert.equal(blue?.calibration?.actionBefore, undefined);
  });

  it("moderates with the calibrated policy; --use-head writes heads that moderate alike", async () => {
    const out = join(dir, "head.json");
    await runCommand(moderate, [
      "calibrate",
      "--model",
      run,
      "--policy",
      policyFile,
      "--data",
      labeled,
      "--target-fpr",
      "0",
      "--use-head",
      "--out",
      out,
    ]);
    const p = loadPolicy(out).policy;
    assert.equal(p.concepts[0]?.prompts, undefined);
    assert.equal(p.concepts[0]?.head?.weights.length, 16);
    const held = items.filter((i) => i.image.endsWith("-2.png"));
    const lines = (
      await runCommand(moderate, ["--model", run, "--policy", out, "--json", ...held.map((i) => i.image)])
    ).map((l) => JSON.parse(l) as { decision: string });
    assert.deepEqual(
      lines.map((l) => l.decision),
      held.map((i) => (i.colour === "red" ? "block" : i.colour === "blue" ? "review" : "allow")),
    );
  });

  it("names bad labeled lines and flag mistakes", async () => {
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, `{"image": "a.png", "labels": []}\n{"image": "b.png", "labels": ["green"]}\n`);
    const calibrate = (...args: string[]) =>
      runCommand(moderate, ["calibrate", "--model", run, "--policy", policyFile, ...args]);
    await assert.rejects(
      calibrate("--data", bad, "--target-fpr", "0.1"),
      new RegExp(`${bad}:2 \\(field 'labels'\\): 'green' is not a concept of the policy \\(red, blue\\)`),
    );
    await assert.rejects(calibrate("--data", labeled), /give one of --target-precision P or --target-fpr F/);
    assert.ok(!existsSync(join(dir, "never.json")));
  });
});
