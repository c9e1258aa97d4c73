/**
 * RunClock on a simulated clock (no test here waits or times anything): a time budget sizes the schedule
 * from the real pace, evaluations are kept out of that pace and fitted into the budget, and the schedule
 * always reaches its end; checkpoints and stop-after; the epoch/minutes conflict; set-up timing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { warmupCosine } from "../../src/optim/schedule.js";
import type { TrainState } from "../../src/train/checkpoint.js";
import { checkScheduleLength, formatRunTiming, RunClock, type StepMarks } from "../../src/train/run.js";
import { OptionError, UserError } from "../../src/util/errors.js";
import { Progress } from "../../src/util/progress.js";

const fresh = (totalSteps: number): TrainState => ({
  step: 0,
  totalSteps,
  warmupSteps: 1,
  elapsedSeconds: 0,
  options: {},
});

/** A clock that moves only when the simulated work says so. */
function fakeTime() {
  let ms = 0;
  return { now: () => ms, spend: (seconds: number) => (ms += seconds * 1000) };
}

/**
 * Runs a simulated trainer: each step costs `stepSeconds(step)`, each evaluation `evalSeconds`; returns
 * the steps at which it evaluated (0 = before the first step) and the learning rate of every step.
 */
async function simulate(
  state: TrainState,
  opts: {
    budget?: number;
    every?: number;
    evaluation?: boolean;
    stepSeconds: (step: number) => number;
    evalSeconds?: number;
  },
) {
  const time = fakeTime();
  const sizes: number[] = [];
  const clock = new RunClock(state, {
    budgetSeconds: opts.budget,
    now: time.now,
    onResize: (n) => sizes.push(n),
    evaluation: opts.evaluation === false ? undefined : { every: opts.every },
  });
  const evaluatedAt: number[] = [];
  const lrs: number[] = [];
  const evaluate = () =>
    clock.evaluate(async () => {
      time.spend(opts.evalSeconds ?? 0);
      evaluatedAt.push(state.step);
    });
  if (clock.evaluateAtStart) await evaluate();
  let marks: StepMarks = { done: false, stop: false, save: false, evaluate: false };
  while (!marks.done && !marks.stop) {
    lrs.push(warmupCosine(state.step, { lr: 1, warmup: state.warmupSteps, total: state.totalSteps }));
    time.spend(opts.stepSeconds(state.step));
    marks = clock.stepDone();
    if (marks.evaluate) await evaluate();
    assert.ok(state.step < 100_000, "runaway loop");
  }
  clock.release();
  return { evaluatedAt, lrs, sizes, marks, elapsed: state.elapsedSeconds, clock };
}

test("a budget with evaluations: the schedule finishes (lr anneals to its end) and the budget holds", async () => {
  // The issue's case: evaluations cost ten steps each in a short run.
  const state = fresh(60); // the dry-run estimate for 30 s at 0.5 s a step
  const r = await simulate(state, { budget: 30, stepSeconds: () => 0.5, evalSeconds: 5 });
  assert.equal(state.step, state.totalSteps, "the run ended with its schedule");
  assert.ok(r.marks.done && r.marks.save);
  assert.ok(r.lrs.at(-1)! < 0.01, `last lr ${r.lrs.at(-1)} (peak 1)`);
  assert.ok(r.elapsed <= 30 + 0.5, `ran ${r.elapsed} s of a 30 s budget`);
  assert.ok(r.elapsed >= 30 - 2 * 0.5, `left ${30 - r.elapsed} s of the budget unused`);
  // 20 % of 30 s pays for one evaluation beside the baseline: at step 0 and at the end.
  assert.deepEqual(r.evaluatedAt, [0, state.step]);
  assert.equal(state.evals?.count, 1);
  assert.equal(state.evals?.runs, 2);
  assert.equal(state.evals?.seconds, 10);
  assert.equal(r.clock.evalSeconds, 10);
  // Training time is the budget less the evaluations: 20 s at 0.5 s a step.
  assert.equal(state.step, 40);
});

test("a longer budget evaluates more often, evenly, and keeps evaluation near a fifth of it", async () => {
  const state = fresh(600);
  const r = await simulate(state, { budget: 600, stepSeconds: () => 1, evalSeconds: 10 });
  assert.equal(state.step, state.totalSteps);
  assert.equal(state.evals?.count, 10); // 0.2 × 600 / 10 - 1 = 11, at most 10
  assert.equal(r.evaluatedAt.length, 11);
  assert.equal(r.evaluatedAt[0], 0);
  assert.equal(r.evaluatedAt.at(-1), state.step);
  const gaps = r.evaluatedAt.slice(1).map((s, i) => s - (r.evaluatedAt[i] as number));
  assert.ok(Math.max(...gaps) - Math.min(...gaps) <= 1, `gaps ${gaps.join(", ")}`);
  assert.ok(r.elapsed <= 601 && r.elapsed >= 598, `ran ${r.elapsed} s`);
  assert.equal(state.evals?.seconds, 110);
});

test("when steps slow down late, the schedule shrinks to fit instead of being cut off", async () => {
  const state = fresh(200);
  // 1 s a step, then three times slower from step 100 on.
  const r = await simulate(state, {
    budget: 200,
    evaluation: false,
    stepSeconds: (s) => (s < 100 ? 1 : 3),
  });
  assert.equal(state.step, state.totalSteps, "the schedule reached its end");
  assert.ok(state.totalSteps < 200, `shrunk to ${state.totalSteps}`);
  assert.ok(r.lrs.at(-1)! < 0.01, `last lr ${r.lrs.at(-1)}`);
  assert.ok(r.elapsed <= 200 + 3, `ran ${r.elapsed} s of 200`);
});

test("slow first steps do not shorten the run for good; the estimate is corrected", async () => {
  const state = fresh(100_000); // a wildly wrong first estimate
  const r = await simulate(state, {
    budget: 120,
    evaluation: false,
    stepSeconds: (s) => (s < 6 ? 4 : 1),
  });
  assert.ok(r.sizes.length >= 2, `re-sized ${r.sizes.length} times`);
  assert.equal(state.step, state.totalSteps);
  assert.ok(state.step > 90, `${state.step} steps in 120 s at 1 s a step after a slow start`);
  assert.ok(r.elapsed <= 121, `ran ${r.elapsed} s`);
});

test("--eval-every is kept under a budget, and its evaluations are reserved out of the budget", async () => {
  const state = fresh(100);
  const r = await simulate(state, { budget: 100, every: 10, stepSeconds: () => 1, evalSeconds: 2 });
  assert.equal(state.step, state.totalSteps);
  const every = r.evaluatedAt.slice(1, -1);
  assert.ok(
    every.every((s) => s % 10 === 0),
    `evaluated at ${r.evaluatedAt.join(", ")}`,
  );
  assert.ok(r.elapsed <= 101, `ran ${r.elapsed} s`);
  // About 1 + steps/10 evaluations of 2 s each come out of the 100 s: roughly 80 steps, not 100.
  assert.ok(state.step >= 75 && state.step <= 85, `${state.step} steps`);
});

test("without a budget: ten evaluations evenly over the schedule, the length unchanged", async () => {
  const state = fresh(50);
  const r = await simulate(state, { stepSeconds: () => 1, evalSeconds: 100 });
  assert.equal(state.totalSteps, 50);
  assert.deepEqual(r.evaluatedAt, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
  assert.deepEqual(r.sizes, []);
});

test("a resumed run keeps its evaluation plan and does not repeat the baseline", async () => {
  const state = fresh(50);
  const time = fakeTime();
  const clock = new RunClock(state, { now: time.now, stopAfter: 12, evaluation: {} });
  assert.ok(clock.evaluateAtStart);
  await clock.evaluate(async () => time.spend(1));
  let m: StepMarks;
  do {
    time.spend(1);
    m = clock.stepDone();
    if (m.evaluate) await clock.evaluate(async () => time.spend(1));
  } while (!m.stop);
  clock.release();
  const saved = structuredClone(state);
  const again = new RunClock(saved, { now: time.now, evaluation: {} });
  assert.equal(again.evaluateAtStart, false);
  assert.deepEqual(saved.evals, { count: 10, done: 2, runs: 3, seconds: 3 });
  again.release();
});

test("checkpoints follow save-every and stop-after; an epoch schedule keeps its length", () => {
  const state = fresh(10);
  const clock = new RunClock(state, { saveEvery: 3, stopAfter: 4, now: fakeTime().now });
  const marks = [1, 2, 3, 4].map(() => clock.stepDone());
  clock.release();
  assert.equal(state.totalSteps, 10);
  assert.deepEqual(
    marks.map((m) => [m.save, m.stop, m.evaluate]),
    [
      [false, false, false],
      [false, false, false],
      [true, false, false],
      [true, true, false],
    ],
  );
});

test("--epochs and --minutes together are refused, not one silently ignored", () => {
  assert.throws(
    () => checkScheduleLength(1, 0.1, false),
    (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /epochs and minutes both set the schedule's length; give one/);
      // The same error in the CLI's words.
      assert.ok(e instanceof OptionError);
      assert.match(
        e.describe((key) => `--${key}`),
        /--epochs and --minutes both set the schedule's length; give one/,
      );
      return true;
    },
  );
  assert.throws(() => checkScheduleLength(3, 2, true), /this run's schedule is 3 epochs/);
  checkScheduleLength(undefined, 0.1, false);
  checkScheduleLength(1, undefined, true);
});

test("the run's timing line names set-up, training and the evaluations in it", () => {
  assert.equal(
    formatRunTiming({ setupSeconds: 9.84, trainSeconds: 31.2, evalSeconds: 6.1 }),
    "set-up 9.8s, training 31s (evaluation 6.1s of it)",
  );
  assert.equal(
    formatRunTiming({ setupSeconds: 2, trainSeconds: 70, evalSeconds: 0 }),
    "set-up 2.0s, training 1m10s",
  );
});

test("the progress line's rate counts training only: a paused evaluation is not in pairs/s", () => {
  const time = fakeTime();
  const lines: string[] = [];
  const bar = new Progress({
    label: "train",
    total: 20,
    unit: "pairs",
    perTick: 32,
    now: time.now,
    stream: { write: (t: string) => lines.push(t) },
  });
  for (let i = 0; i < 20; i++) {
    time.spend(0.5);
    bar.tick();
    if (i % 5 === 4) {
      bar.pause();
      time.spend(10); // an evaluation
      bar.resume();
    }
  }
  assert.match(bar.render(), /pairs\/s 64 /);
  bar.done();
  assert.match(lines.at(-2) ?? "", /pairs\/s 64 in 10s$/);
});

test("a budget already spent (an evaluation or a step slower than the whole budget) ends the run, never runs on", async () => {
  // The CI hang: a 3 s budget whose first evaluation took 5 s; each re-sizing gave 'one more step' forever.
  for (const [evalSeconds, stepSeconds] of [
    [5, 0.1],
    [0, 4],
    [1, 0.5],
  ] as const) {
    const state = fresh(30);
    const r = await simulate(state, { budget: 3, stepSeconds: () => stepSeconds, evalSeconds });
    assert.equal(state.step, state.totalSteps, "the schedule reached its end");
    assert.ok(r.marks.done);
    assert.ok(
      state.step <= 8,
      `eval ${evalSeconds} s, step ${stepSeconds} s: ${state.step} steps in a 3 s budget`,
    );
    assert.equal(r.evaluatedAt.at(-1), state.step, "the final evaluation still runs");
  }
});
