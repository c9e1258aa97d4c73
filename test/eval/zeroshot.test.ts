/** Zero-shot: prompt-template class embeddings, template files, accuracy with an empty class. */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { zeroShotAccuracy } from "../../src/eval/zeroshot.js";
import {
  classEmbeddings,
  EMOJI_TEMPLATES,
  fillTemplate,
  loadTemplates,
  PHOTO_TEMPLATES,
} from "../../src/pipelines/templates.js";
import { UserError } from "../../src/util/errors.js";

test("loadTemplates reads one template a line, skipping blanks and comments", () => {
  const dir = mkdtempSync(join(tmpdir(), "juxta-"));
  const good = join(dir, "good.txt");
  writeFileSync(good, "# prompts\na photo of a {}.\n\n  an icon of {}.  \r\n");
  assert.deepEqual(loadTemplates(good), ["a photo of a {}.", "an icon of {}."]);
  const bad = join(dir, "bad.txt");
  writeFileSync(bad, "a photo of a {}.\na photo of a cat.\n");
  assert.throws(
    () => loadTemplates(bad),
    (e: Error) => e instanceof UserError && e.message.includes(`${bad}:2`),
  );
  const empty = join(dir, "empty.txt");
  writeFileSync(empty, "# nothing\n\n");
  assert.throws(() => loadTemplates(empty), UserError);
  assert.throws(() => loadTemplates(join(dir, "absent.txt")), UserError);
});

test("default template sets all have a slot", () => {
  for (const t of [...PHOTO_TEMPLATES, ...EMOJI_TEMPLATES]) assert.ok(t.includes("{}"), t);
  assert.equal(fillTemplate("a photo of a {}.", "red fox"), "a photo of a red fox.");
});

test("class embedding = renormalized mean of normalized prompt embeddings", async () => {
  // Fake text tower, 4-d: the class word sets axis 0 (cat) or 1 (dog), the template sets axis 2 or 3.
  const calls: string[][] = [];
  const embed = async (texts: string[]) => {
    calls.push(texts);
    const out = new Float32Array(texts.length * 4);
    texts.forEach((t, i) => {
      out[i * 4 + (t.includes("cat") ? 0 : 1)] = 3;
      out[i * 4 + (t.startsWith("a photo") ? 2 : 3)] = 3; // unnormalized on purpose
    });
    return out;
  };
  const emb = await classEmbeddings(["cat", "dog"], ["a photo of a {}.", "an icon of {}."], embed, {
    batchSize: 2,
  });
  // Each prompt → (1, 1)/√2 on (class, template) axes; mean → (1, ½, ½)/√2; renormalized → (1, ½, ½)/√1.5.
  const a = 1 / Math.sqrt(1.5);
  const b = 0.5 / Math.sqrt(1.5);
  const expected = [a, 0, b, b, 0, a, b, b];
  for (const [i, v] of emb.entries()) assert.ok(Math.abs(v - (expected[i] as number)) < 1e-6, `${i}: ${v}`);
  // batchSize 2 with 2 templates: one class per call.
  assert.deepEqual(calls, [
    ["a photo of a cat.", "an icon of cat."],
    ["a photo of a dog.", "an icon of dog."],
  ]);
  await assert.rejects(classEmbeddings([], ["{}"], embed), UserError);
  await assert.rejects(classEmbeddings(["cat"], ["no slot"], embed), UserError);
});

test("a class with no images still competes; ties count against the true class", () => {
  const classEmb = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]); // cat, dog, bird
  const images = Float32Array.from([0.9, 0.1, 0, 0.1, 0.9, 0, 0.2, 0, 0.8]);
  const labels = ["cat", "dog", "cat"];
  // The third image (a cat) is closest to bird, a class no image has.
  assert.deepEqual(zeroShotAccuracy(images, labels, ["cat", "dog", "bird"], classEmb), {
    top1: 2 / 3,
    top5: 1,
    classes: 3,
  });
  // Without bird it is a cat again.
  assert.deepEqual(zeroShotAccuracy(images, labels, ["cat", "dog"], classEmb.slice(0, 6)), {
    top1: 1,
    top5: 1,
    classes: 2,
  });
  // An image exactly between cat and dog is not a cat at top 1.
  const tie = zeroShotAccuracy(Float32Array.from([0.5, 0.5, 0]), ["cat"], ["cat", "dog", "bird"], classEmb);
  assert.equal(tie.top1, 0);
  assert.equal(tie.top5, 1);
});

test("zero-shot input errors", () => {
  const c = Float32Array.from([1, 0]);
  assert.throws(() => zeroShotAccuracy(c, ["cat"], [], new Float32Array(0)), /class set is empty/);
  assert.throws(() => zeroShotAccuracy(c, ["fish"], ["cat"], c), UserError);
  assert.throws(() => zeroShotAccuracy(c, ["cat", "cat"], ["cat"], c), UserError);
  assert.throws(
    () => zeroShotAccuracy(c, ["cat"], ["cat", "cat"], Float32Array.from([1, 0, 1, 0])),
    UserError,
  );
  assert.throws(() => zeroShotAccuracy(c, ["cat"], ["cat", "dog"], Float32Array.from([1, 0, 1])), UserError);
});
