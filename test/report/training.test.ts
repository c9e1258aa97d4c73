/** Reading a training log: smoothing, chance levels, the collapse warning, axes a reader can trust. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chanceLevels } from "../../src/apps/report.js";
import { renderReport } from "../../src/report/index.js";
import { niceTicks, trustedRange } from "../../src/report/svg.js";
import { collapseWarning, ema, smoothingWindow } from "../../src/report/training.js";

/** The run the issue describes: loss settles at ln 32 while the gradient norm falls 7.8 → 0.07. */
function collapsedRun(steps = 400) {
  return Array.from({ length: steps }, (_, i) => ({
    step: i,
    loss: Math.log(32) + 0.5 * Math.exp(-i / 20),
    gradNorm: 7.8 * (0.07 / 7.8) ** (i / (steps - 1)),
    logitScale: 14.3 - (4 * i) / steps,
    accuracy: 1 / 32,
  }));
}

describe("training log", () => {
  test("EMA is debiased, skips gaps, and is off for short logs", () => {
    assert.deepEqual(ema([2, 2, 2], 10), [2, 2, 2]);
    const y = ema([0, 10, Number.NaN, 10], 2);
    assert.equal(y[0], 0);
    assert.ok(Math.abs(y[1]! - 20 / 3) < 1e-12, `${y[1]}`);
    assert.ok(Number.isNaN(y[2]));
    assert.ok(y[3]! > y[1]! && y[3]! < 10);
    assert.equal(smoothingWindow(30), 1);
    assert.equal(smoothingWindow(2000), 40);
    const html = renderReport({ title: "t", run: {}, metrics: collapsedRun(30), evals: [] });
    assert.ok(!html.includes('class="series faint"'), "no faint raw curve under a short log");
  });

  test("chance levels follow the method's candidates", () => {
    assert.deepEqual(chanceLevels("clip", 32).loss, { y: Math.log(32), label: "chance: ln 32" });
    assert.equal(chanceLevels("clip", 32).accuracy?.y, 1 / 32);
    assert.equal(chanceLevels("simclr", 32).loss?.y, Math.log(63));
    assert.equal(chanceLevels("moco", 32, 4096).accuracy?.label, "chance: 1/4097");
    assert.equal(chanceLevels("supcon", 8).accuracy, undefined);
    assert.deepEqual(chanceLevels("siglip", 32), {});
    assert.deepEqual(chanceLevels("clip", undefined), {});
  });

  test("a loss stuck at ln(batch) with a dying gradient is flagged as a collapse; a learning run is not", () => {
    const chance = chanceLevels("clip", 32);
    const warning = collapseWarning(collapsedRun(), chance)!;
    assert.match(warning, /ends at 3\.4657, at its chance level \(ln 32 = 3\.4657\)/);
    assert.match(warning, /gradient norm fell from 7\.8 to 0\.07/);
    assert.match(warning, /logit scale fell from 14\.3 to 10\.3/);
    assert.match(warning, /collapsed/);
    const learning = collapsedRun().map((m, i) => ({ ...m, loss: Math.log(32) * Math.exp(-i / 100) }));
    assert.equal(collapseWarning(learning, chance), undefined);
    assert.equal(collapseWarning(collapsedRun(), {}), undefined);
    const html = renderReport({ title: "t", run: {}, metrics: collapsedRun(), chance, evals: [] });
    assert.match(html, /<p class="warning" role="alert">The loss ends at 3\.4657/);
    assert.match(html, /<line class="ref" data-ref="chance: ln 32"/);
  });

  test("axes: integer step ticks, ranges never narrower than a tenth of the values", () => {
    assert.deepEqual(niceTicks(1, 3, 8, true).ticks, [1, 2, 3]);
    assert.ok(niceTicks(1, 3, 8).ticks.some((t) => !Number.isInteger(t)));
    const [lo, hi] = trustedRange(14.278, 14.286);
    assert.ok(hi - lo >= 1.4 && lo < 14.278 && hi > 14.286, `${lo}..${hi}`);
    assert.deepEqual(trustedRange(0.001, 0.002, true), [0, 0.002]);
    assert.deepEqual(trustedRange(2, 5), [2, 5]);
    // The logit scale of a short run: ticks span at least 13.6-15, and no step tick is fractional.
    const metrics = [1, 2, 3].map((step) => ({ step, loss: 3, logitScale: 14.28 + step * 0.002 }));
    const html = renderReport({ title: "t", run: {}, metrics, evals: [] });
    const chart = /data-chart="logit_scale"[\s\S]*?<\/svg>/.exec(html)![0];
    const ticks = [...chart.matchAll(/<text class="tick"[^>]*>([^<]*)</g)].map((m) => m[1]!);
    assert.ok(!ticks.some((t) => /^\d\.\d/.test(t) && Number(t) < 4), `x ticks: ${ticks}`);
    const ys = ticks.map(Number).filter((v) => v > 10);
    assert.ok(Math.max(...ys) - Math.min(...ys) >= 1, `y ticks: ${ys}`);
  });
});
