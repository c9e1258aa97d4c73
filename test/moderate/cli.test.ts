/** `juxta moderate`: text and JSON lines, the audit log, the pipeline, and the exit status (a real CLI process). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, before, describe, it } from "node:test";
import { moderate } from "../../src/cli/commands/moderate.js";
import { modelFingerprint } from "../../src/handle/fingerprint.js";
import { openModel } from "../../src/handle/open.js";
import { loadPolicy } from "../../src/moderate/policy.js";
import { pipeline } from "../../src/pipelines/index.js";
import { runCommand } from "../apps/fixtures.js";
import { projectRoot } from "../helpers.js";
import { type ShapeItem, tempDir, trainShapesModel, writeShapes } from "./fixtures.js";

describe("juxta moderate", () => {
  let dir = "";
  let run = "";
  let items: ShapeItem[] = [];
  let manifest = "";
  let policyFile = "";

  before(async () => {
    dir = tempDir();
    const shapes = await writeShapes(dir, 2);
    items = shapes.items;
    run = await trainShapesModel(dir, shapes.manifest);
    // Thresholds from the model's own scores: red images block, blue ones go to review.
    const model = await openModel(run);
    const check = await pipeline("moderation", model, {
      policy: {
        name: "probe",
        templates: "none",
        concepts: [
          { name: "red", prompts: ["a red square", "a red disc"], threshold: 1, action: "block" },
          { name: "blue", prompts: ["a blue square", "a blue disc"], threshold: 1, action: "review" },
        ],
      },
    });
    const results = await check(items.map((i) => i.image));
    const cut = (concept: string, colour: string) => {
      const own = results
        .filter((_, k) => items[k]!.colour === colour)
        .map((r) => r.scores[concept] as number);
      const others = results
        .filter((_, k) => items[k]!.colour !== colour)
        .map((r) => r.scores[concept] as number);
      assert.ok(Math.min(...own) > Math.max(...others), `the trained model separates ${colour}`);
      return (Math.min(...own) + Math.max(...others)) / 2;
    };
    policyFile = join(dir, "policy.json");
    writeFileSync(
      policyFile,
      JSON.stringify({
        name: "colours",
        templates: "none",
        concepts: [
          {
            name: "red",
            prompts: ["a red square", "a red disc"],
            threshold: cut("red", "red"),
            action: "block",
          },
          {
            name: "blue",
            prompts: ["a blue square", "a blue disc"],
            threshold: cut("blue", "blue"),
            action: "review",
          },
        ],
        caption: { threshold: 0 },
      }),
    );
    // Captions: the truth, except one green image captioned as yellow.
    manifest = join(dir, "uploads.jsonl");
    writeFileSync(
      manifest,
      items
        .map((i, k) => JSON.stringify({ image: i.image, text: k === 4 ? "a red disc" : i.text }))
        .join("\n"),
    );
    await model.dispose();
  });

  afterEach(() => {
    process.exitCode = 0;
  });

  it("prints each decision with its explanation, and appends audit lines", async () => {
    const audit = join(dir, "audit.jsonl");
    const red = items.find((i) => i.colour === "red")!.image;
    const green = items.find((i) => i.colour === "green")!.image;
    const out = await runCommand(moderate, [
      "--model",
      run,
      "--policy",
      policyFile,
      "--audit",
      audit,
      red,
      green,
    ]);
    assert.equal(out.length, 2);
    assert.match(
      out[0]!,
      new RegExp(
        `^block   ${red}\\n        block: block red: [\\d.-]+ ≥ [\\d.-]+ \\(\\+[\\d.]+, prompt 'a red (square|disc)'\\)$`,
      ),
    );
    assert.match(out[1]!, /^allow {3}.*green-square-0\.png\n {8}allow: no concept reached its threshold/);
    assert.equal(process.exitCode, 2, "a block sets exit status 2");
    const lines = readFileSync(audit, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    const [a] = lines;
    assert.equal(a.id, red);
    assert.equal(a.decision, "block");
    assert.equal(a.model.fingerprint, modelFingerprint(run));
    assert.equal(a.policy.hash, loadPolicy(policyFile).hash);
    assert.equal(a.policy.name, "colours");
    assert.ok(Math.abs(Date.parse(a.time) - Date.now()) < 60_000);
    assert.equal(a.hits[0].concept, "red");
    assert.equal(typeof a.scores.blue, "number");
    // Appending: a second run adds lines, keeps the first.
    await runCommand(moderate, ["--model", run, "--policy", policyFile, "--audit", audit, green]);
    assert.equal(readFileSync(audit, "utf8").trim().split("\n").length, 3);
  });

  it("--data reads a manifest and checks its captions; --json prints the audit lines", async () => {
    const out = await runCommand(moderate, [
      "--model",
      run,
      "--policy",
      policyFile,
      "--data",
      manifest,
      "--json",
    ]);
    const lines = out.map((l) => JSON.parse(l));
    assert.equal(lines.length, items.length);
    lines.forEach((l, k) => {
      const colour = items[k]!.colour;
      const expected = colour === "red" ? "block" : colour === "blue" || k === 4 ? "review" : "allow";
      assert.equal(l.decision, expected, `${items[k]!.image} (${l.explanation})`);
      assert.equal(l.caption.consistent, k !== 4);
    });
    assert.equal(lines[4].caption.text, "a red disc");
    assert.match(lines[4].explanation, /^review: review caption: consistency -[\d.]+ < 0\.000/);
  });

  it("exit status: 2 when something reaches --fail-on, 0 when not, 1 on a bad policy", () => {
    const cli = join(projectRoot, "dist", "src", "cli", "main.js");
    const green = items.find((i) => i.colour === "green")!.image;
    const blue = items.find((i) => i.colour === "blue")!.image;
    const exit = (...args: string[]) =>
      spawnSync(process.execPath, [cli, "moderate", "--model", run, ...args], { encoding: "utf8" });
    const ok = exit("--policy", policyFile, green, blue);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /2 items: 1 allow, 1 review/);
    assert.equal(exit("--policy", policyFile, "--fail-on", "review", green, blue).status, 2);
    const bad = join(dir, "bad.json");
    writeFileSync(
      bad,
      '{"name": "x", "concepts": [{"name": "a", "prompts": ["a"], "threshold": 0.2, "action": "ban"}]}',
    );
    const r = exit("--policy", bad, green);
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `juxta: ${bad}:1:78 (concepts[0].action): expected one of flag, review, block, got "ban"\n`,
    );
    assert.ok(!existsSync(join(dir, "never.jsonl")));
  });
});
