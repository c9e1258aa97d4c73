/** A pair method's run settings: the schedule given in steps, and the training images' augmentation. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AUGMENT_PRESETS } from "../../src/image/augment.js";
import type { TrainState } from "../../src/train/checkpoint.js";
import { METHODS } from "../../src/train/methods/index.js";
import { resolveSettings } from "../../src/train/options.js";

const clip = METHODS.clip;
const base = { data: "pairs.jsonl", out: "runs/x" };

test("steps fix the schedule's length instead of epochs; with epochs or minutes they are refused", () => {
  const s = resolveSettings(clip, { ...base, steps: 234 }, undefined);
  assert.equal(s.steps, 234);
  assert.equal(s.epochs, undefined, "no default epoch count beside a step count");
  assert.equal(resolveSettings(clip, base, undefined).epochs, clip.defaults.epochs);
  assert.throws(
    () => resolveSettings(clip, { ...base, steps: 10, epochs: 2 }, undefined),
    /epochs and steps both set the schedule's length; give one/,
  );
  assert.throws(
    () => resolveSettings(clip, { ...base, steps: 10, minutes: 2 }, undefined),
    /steps and minutes both set the schedule's length/,
  );
  assert.throws(
    () => resolveSettings(clip, { ...base, steps: 2.5 }, undefined),
    /steps must be a whole number/,
  );
  // A step-count run cannot be turned into a time-budgeted one on resume.
  const prior = { step: 3, totalSteps: 10, options: { ...s } } as unknown as TrainState;
  assert.throws(
    () => resolveSettings(clip, { out: "runs/x", resume: true, minutes: 1 }, prior),
    /this run's schedule is 234 steps; minutes applies only/,
  );
});

test("CLIP's augmentation: the method's default, a preset or config by name, recorded; image-only names refused", () => {
  assert.equal(resolveSettings(clip, base, undefined).augment, clip.defaults.augment);
  assert.equal(resolveSettings(clip, { ...base, augment: "clip-strong" }, undefined).augment, "clip-strong");
  const custom = { ...AUGMENT_PRESETS.clip, flipP: 0.5 };
  assert.deepEqual(resolveSettings(clip, { ...base, augment: custom }, undefined).augment, custom);
  assert.throws(
    () => resolveSettings(clip, { ...base, augment: "crop" as never }, undefined),
    /augment for image-text pairs must be one of clip, clip-strong, simclr, mocov2, none/,
  );
  // Runs from before the option recorded none: they trained with "clip", and resume with it.
  const { augment: _, ...old } = resolveSettings(clip, base, undefined);
  const prior = { step: 1, totalSteps: 10, options: old } as unknown as TrainState;
  assert.equal(resolveSettings(clip, { out: "runs/x", resume: true }, prior).augment, "clip");
  assert.throws(
    () => resolveSettings(clip, { out: "runs/x", resume: true, augment: "clip-strong" }, prior),
    /augment "clip-strong" differs from the run's "clip"/,
  );
});

test("patch dropout: a share in [0, 1), recorded (0 by default and for older runs), not with accumulation", () => {
  assert.equal(resolveSettings(clip, base, undefined).patchDropout, 0);
  assert.equal(resolveSettings(clip, { ...base, patchDropout: 0.5 }, undefined).patchDropout, 0.5);
  assert.throws(() => resolveSettings(clip, { ...base, patchDropout: 1 }, undefined), /in \[0, 1\); got 1/);
  assert.throws(
    () => resolveSettings(clip, { ...base, patchDropout: 0.5, accumFreq: 2 }, undefined),
    /patchDropout does not combine with accumFreq/,
  );
  const { patchDropout: _, ...old } = resolveSettings(clip, base, undefined);
  const prior = { step: 1, totalSteps: 10, options: old } as unknown as TrainState;
  assert.equal(resolveSettings(clip, { out: "runs/x", resume: true }, prior).patchDropout, 0);
});
