/** RunClock: a time budget resizes the schedule from the first real steps; checkpoints and stop-after. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TrainState } from "../../src/train/checkpoint.js";
import { RunClock } from "../../src/train/run.js";

const fresh = (totalSteps: number): TrainState => ({
  step: 0,
  totalSteps,
  warmupSteps: 1,
  elapsedSeconds: 0,
  options: {},
});

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

test("a time budget replaces the dry-run estimate after the first real steps, and ends the run", () => {
  const state = fresh(100_000); // a wildly wrong first estimate
  let resized: number | undefined;
  const clock = new RunClock(state, { budgetSeconds: 0.3, onResize: (n) => (resized = n) });
  let r = { done: false, stop: false, save: false };
  while (!r.done) {
    busy(10);
    r = clock.stepDone();
  }
  clock.release();
  assert.ok(resized !== undefined && resized > 6 && resized < 100, `resized to ${resized}`);
  assert.equal(state.totalSteps, resized);
  assert.ok(r.save, "the last step checkpoints");
  assert.ok(state.elapsedSeconds >= 0.25 || state.step >= state.totalSteps);
});

test("the schedule follows the pace: slow first steps do not shorten the run for good", () => {
  const state = fresh(100_000);
  const sizes: number[] = [];
  const clock = new RunClock(state, { budgetSeconds: 1.2, onResize: (n) => sizes.push(n) });
  let r = { done: false, stop: false, save: false };
  while (!r.done) {
    busy(state.step < 6 ? 40 : 10); // a slow start, then four times faster
    r = clock.stepDone();
  }
  clock.release();
  assert.ok(sizes.length >= 2, `re-sized ${sizes.length} times`);
  assert.ok((sizes[1] as number) > (sizes[0] as number) * 2, `sizes ${sizes.join(", ")}`);
  // The budget is spent: the run ends by time or by a schedule sized from the fast pace.
  assert.ok(state.elapsedSeconds >= 1.0, `stopped after ${state.elapsedSeconds.toFixed(2)} s of 1.2`);
});

test("an epoch budget keeps its length; stop-after and save-every decide checkpoints", () => {
  const state = fresh(10);
  const clock = new RunClock(state, { saveEvery: 3, stopAfter: 4 });
  const marks = [1, 2, 3, 4].map(() => clock.stepDone());
  clock.release();
  assert.equal(state.totalSteps, 10);
  assert.deepEqual(
    marks.map((m) => [m.save, m.stop]),
    [
      [false, false],
      [false, false],
      [true, false],
      [true, true],
    ],
  );
});
