/**
 * Moderation on a real model (a tiny CLIP trained here on coloured shapes, which learns colour): scores
 * checked against the handle's own embeddings, then thresholds set around the measured scores so each rule
 * (fire, special-care tightening, allow clearing a borderline hit, caption check, strictest action) is
 * seen to decide.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import type { ModelHandle } from "../../src/handle/model.js";
import { openModel } from "../../src/handle/open.js";
import { Moderator, moderate } from "../../src/moderate/moderate.js";
import { type Policy, parsePolicy } from "../../src/moderate/policy.js";
import { classEmbeddings } from "../../src/pipelines/templates.js";
import { type ShapeItem, tempDir, trainShapesModel, writeShapes } from "./fixtures.js";

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] as number) * (b[i] as number);
    aa += (a[i] as number) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe("moderate", () => {
  let dir = "";
  let items: ShapeItem[] = [];
  let model: ModelHandle;
  const red = () => items.find((i) => i.colour === "red")!;
  const green = () => items.find((i) => i.colour === "green")!;

  before(async () => {
    dir = tempDir();
    const shapes = await writeShapes(dir, 3);
    items = shapes.items;
    model = await openModel(await trainShapesModel(dir, shapes.manifest));
  });

  /** Scores of the red image for prompt concepts "red" and "blue" and an example concept. */
  async function measured() {
    const policy: Policy = {
      name: "probe",
      templates: "none",
      concepts: [
        { name: "red", prompts: ["a red disc", "a red square"], threshold: 1, action: "block" },
        { name: "blue", prompts: ["a blue square"], threshold: 1, action: "review" },
        {
          name: "like-red",
          examples: [items.filter((i) => i.colour === "red")[1]!.image],
          threshold: 1,
          action: "flag",
        },
      ],
    };
    const [r] = await moderate(model, policy, [{ image: red().image }]);
    return r!;
  }

  it("scores are cosines with the prompt ensembles and the examples' mean; nothing fires above every score", async () => {
    const r = await measured();
    assert.equal(r.decision, "allow");
    assert.deepEqual(r.hits, []);
    const img = await model.embedImages([red().image]);
    const prompts = await classEmbeddings(["a red disc", "a red square", "a blue square"], ["{}"], (t) =>
      model.embedTexts(t),
    );
    const dim = model.dim;
    const row = (k: number) => prompts.subarray(k * dim, (k + 1) * dim);
    const expectRed = Math.max(cosine(img, row(0)), cosine(img, row(1)));
    assert.ok(Math.abs((r.scores.red as number) - expectRed) < 1e-5, `${r.scores.red} vs ${expectRed}`);
    assert.ok(Math.abs((r.scores.blue as number) - cosine(img, row(2))) < 1e-5);
    const example = await model.embedImages([items.filter((i) => i.colour === "red")[1]!.image]);
    assert.ok(Math.abs((r.scores["like-red"] as number) - cosine(img, example)) < 1e-5);
    // The trained model puts the red image nearer "red" than "blue".
    assert.ok((r.scores.red as number) > (r.scores.blue as number));
    assert.match(
      r.explanation,
      /^allow: no concept reached its threshold \(nearest: like-red [\d.]+, −[\d.]+\)$/,
    );
  });

  it("fires concepts at their thresholds; the strictest action decides; explanations give score, threshold, margin", async () => {
    const s = (await measured()).scores;
    const policy: Policy = {
      name: "t",
      templates: "none",
      concepts: [
        {
          name: "red",
          prompts: ["a red disc", "a red square"],
          threshold: (s.red as number) - 0.05,
          action: "review",
        },
        { name: "blue", prompts: ["a blue square"], threshold: (s.blue as number) - 0.1, action: "block" },
        { name: "never", prompts: ["yellow"], threshold: 0.99, action: "block" },
      ],
    };
    const [r] = await moderate(model, policy, [{ image: red().image, id: "red-1" }]);
    assert.equal(r!.id, "red-1");
    assert.equal(r!.decision, "block");
    assert.deepEqual(
      r!.hits.map((h) => [h.concept, h.action]),
      [
        ["blue", "block"],
        ["red", "review"],
      ],
    );
    const redHit = r!.hits[1]!;
    assert.ok(Math.abs(redHit.margin - 0.05) < 1e-9);
    assert.equal(redHit.tightenedBy, 0);
    assert.match(redHit.source, /^prompt 'a red (disc|square)'$/);
    assert.match(
      r!.explanation,
      /^block: block blue: -?[\d.]+ ≥ -?[\d.]+ \(\+0\.100, prompt 'a blue square'\); review red: -?[\d.]+ ≥ -?[\d.]+ \(\+0\.050, prompt '[a-z ]+'\)$/,
    );
  });

  it("a special-care hit tightens the other thresholds by 0.01 (and only then)", async () => {
    const s = (await measured()).scores;
    const policy = (careThreshold: number): Policy => ({
      name: "care",
      templates: "none",
      concepts: [
        // 0.005 short of its threshold: fires only when tightened by 0.01.
        {
          name: "red",
          prompts: ["a red disc", "a red square"],
          threshold: (s.red as number) + 0.005,
          action: "block",
        },
        { name: "care", prompts: ["a blue square"], threshold: careThreshold, specialCare: true },
      ],
    });
    const [hit] = await moderate(model, policy((s.blue as number) - 0.001), [{ image: red().image }]);
    assert.deepEqual(hit!.specialCare, ["care"]);
    assert.equal(hit!.decision, "block");
    assert.equal(hit!.hits[0]?.tightenedBy, 0.01);
    assert.ok(Math.abs(hit!.hits[0]!.margin - 0.005) < 1e-9);
    assert.match(hit!.explanation, /tightened by 0\.01 for care/);
    const [miss] = await moderate(model, policy((s.blue as number) + 0.001), [{ image: red().image }]);
    assert.deepEqual(miss!.specialCare, []);
    assert.equal(miss!.decision, "allow");
  });

  it("an allow-concept clears a borderline hit of the concepts it covers, not a clear one", async () => {
    const s = (await measured()).scores;
    const policy = (margin: number, clears?: string[]): Policy => ({
      name: "allow",
      templates: "none",
      borderline: 0.02,
      concepts: [
        {
          name: "red",
          prompts: ["a red disc", "a red square"],
          threshold: (s.red as number) - margin,
          action: "block",
        },
        { name: "blue", prompts: ["a blue square"], threshold: (s.blue as number) - margin, action: "flag" },
      ],
      allow: [{ name: "toy", examples: [red().image], threshold: 0.9, ...(clears ? { clears } : {}) }],
    });
    const [near] = await moderate(model, policy(0.01, ["red"]), [{ image: red().image }]);
    assert.deepEqual(
      near!.cleared.map((h) => [h.concept, h.clearedBy]),
      [["red", "toy"]],
    );
    assert.deepEqual(
      near!.hits.map((h) => h.concept),
      ["blue"],
    );
    assert.equal(near!.decision, "flag");
    assert.equal(near!.allowed[0]?.name, "toy");
    assert.match(near!.explanation, /red cleared by toy: -?[\d.]+ only \+0\.010 past/);
    const [far] = await moderate(model, policy(0.05), [{ image: red().image }]);
    assert.deepEqual(far!.cleared, []);
    assert.equal(far!.decision, "block");
  });

  it("the caption check: a consistent caption passes, a wrong one is sent to review", async () => {
    const policy = parsePolicy(
      JSON.stringify({
        name: "captions",
        concepts: [{ name: "never", prompts: ["yellow"], threshold: 0.99, action: "block" }],
        caption: { threshold: 0 },
      }),
    );
    const moderator = await Moderator.create(model, policy);
    const [right, wrong, none] = await moderator.moderate([
      { image: red().image, caption: red().text },
      { image: red().image, caption: green().text },
      { image: red().image },
    ]);
    const img = await model.embedImages([red().image]);
    const txt = await model.embedTexts([red().text, green().text]);
    const dim = model.dim;
    assert.ok(Math.abs(right!.caption!.score - cosine(img, txt.subarray(0, dim))) < 1e-5);
    assert.ok(Math.abs(wrong!.caption!.score - cosine(img, txt.subarray(dim))) < 1e-5);
    assert.equal(right!.caption!.consistent, true);
    assert.equal(right!.decision, "allow");
    assert.equal(wrong!.caption!.consistent, false);
    assert.equal(wrong!.decision, "review");
    assert.match(wrong!.explanation, /^review: review caption: consistency -[\d.]+ < 0\.000 \(−[\d.]+\)$/);
    assert.equal(none!.caption, undefined);
    assert.equal(moderator.hash, policy.hash);
  });

  it("examples resolve against the policy file's folder; a missing one is named", async () => {
    const file = join(dir, "examples.json");
    const policy = (example: string) =>
      JSON.stringify({
        name: "e",
        concepts: [{ name: "x", examples: [example], threshold: 0.5, action: "flag" }],
      });
    writeFileSync(file, policy("shapes/red-square-0.png"));
    const { loadPolicy } = await import("../../src/moderate/policy.js");
    const [r] = await moderate(model, loadPolicy(file), [{ image: red().image }]);
    assert.ok(Math.abs((r!.scores.x as number) - 1) < 1e-5, "the image is its own example");
    writeFileSync(file, policy("shapes/none.png"));
    await assert.rejects(
      moderate(model, loadPolicy(file), [{ image: red().image }]),
      /concept 'x': example image 1 'shapes\/none\.png' does not exist/,
    );
  });
});
