/** Linear probe: separates linearly separable blobs, reproducibly. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { linearProbe } from "../../src/eval/linear-probe.js";

/** Three Gaussian blobs in 8-d, centres 4 apart on different axes, plus a large constant offset. */
function blobs(n: number, seed: number): { x: Float32Array; y: number[] } {
  const dim = 8;
  const x = new Float32Array(n * dim);
  fillNormal(x, streamKey(seed, "blobs"), 0, 0.7);
  const y = Array.from({ length: n }, (_, i) => i % 3);
  y.forEach((c, i) => {
    x[i * dim + c]! += 4;
    x[i * dim + 7]! += 50; // removed by standardization
  });
  return { x, y };
}

test("a linear probe separates linearly separable classes, the same way twice", async () => {
  const train = blobs(150, 1);
  const testSet = blobs(60, 2);
  const opts = { epochs: 40, batchSize: 32, lr: 0.05, seed: 3 };
  const a = await linearProbe(train.x, train.y, testSet.x, testSet.y, 8, opts);
  assert.ok(a.top1 >= 0.95, `test accuracy ${a.top1}`);
  assert.ok(a.trainTop1 >= 0.95, `train accuracy ${a.trainTop1}`);
  assert.equal(a.top5, 1);
  assert.ok(a.loss < 0.2, `final loss ${a.loss}`);
  const b = await linearProbe(train.x, train.y, testSet.x, testSet.y, 8, opts);
  assert.deepEqual(b, a);
});

test("labels that no linear map can fit stay near chance", async () => {
  // The same inputs with labels independent of them: the probe cannot beat chance on new data by much.
  const train = blobs(150, 1);
  const testSet = blobs(60, 2);
  const shuffled = train.y.map((_, i) => (i * 7 + Math.floor(i / 3)) % 3);
  const r = await linearProbe(train.x, shuffled, testSet.x, testSet.y, 8, { epochs: 10, batchSize: 50 });
  assert.ok(r.top1 < 0.7, `test accuracy ${r.top1}`);
});
