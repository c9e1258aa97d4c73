/** Weighted kNN: hand-computed votes, neighbour ties, and a sort-based reference on random data. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { type KnnOptions, knnAccuracy } from "../../src/eval/knn.js";
import { UserError } from "../../src/util/errors.js";

// Training points on the unit circle: sims to the query (1, 0) are 1, 0.8, 0.6, 0.
const train = Float32Array.from([1, 0, 0.8, 0.6, 0.6, 0.8, 0, 1]);
const trainLabels = [0, 1, 1, 0];
const query = Float32Array.from([1, 0]);
/** kNN of the one query whose true class is `truth`. */
const classify = (labels: number[], truth: number, opts: KnnOptions) =>
  knnAccuracy(train, labels, query, [truth], 2, opts);

test("votes exp(sim/t) summed per class decide, and the temperature matters", async () => {
  // k=3, t=1: class 0 gets e^1 = 2.72, class 1 gets e^0.8 + e^0.6 = 4.05 → predicts 1.
  assert.deepEqual(await classify(trainLabels, 0, { k: 3, t: 1 }), { top1: 0, top5: 1 });
  assert.deepEqual(await classify(trainLabels, 1, { k: 3, t: 1 }), { top1: 1, top5: 1 });
  // t=0.1: class 0 gets e^10, class 1 gets e^8 + e^6 → predicts 0.
  assert.deepEqual(await classify(trainLabels, 0, { k: 3, t: 0.1 }), { top1: 1, top5: 1 });
  // k=1: only the nearest (class 0) votes.
  assert.deepEqual(await classify(trainLabels, 1, { k: 1, t: 1 }), { top1: 0, top5: 1 });
  // The default k (200) is capped at the 4 training points: class 0 e^1 + e^0 = 3.72 < 4.05 → 1.
  assert.deepEqual(await classify(trainLabels, 1, { t: 1 }), { top1: 1, top5: 1 });
});

test("a true class without votes misses even at top 5; tied neighbours go by training order", async () => {
  // Classes 0..6 exist; the 2 neighbours vote for 0 and 1, so the true class 6 ties at zero with 2..5
  // and ranks behind all six others.
  assert.deepEqual(await classify([0, 1, 1, 2], 6, { k: 2 }), { top1: 0, top5: 0 });
  // With fewer zero-vote rivals (classes 0..3) it is within the top 5.
  assert.deepEqual(await classify([0, 1, 1, 2], 3, { k: 2 }), { top1: 0, top5: 1 });
  const twins = Float32Array.from([1, 0, 1, 0]);
  assert.equal((await knnAccuracy(twins, [1, 0], query, [1], 2, { k: 1 })).top1, 1);
  assert.equal((await knnAccuracy(twins, [0, 1], query, [1], 2, { k: 1 })).top1, 0);
});

test("blockwise kNN equals a sort-based reference", async () => {
  const dim = 6;
  const nTrain = 120;
  const nTest = 600; // more than two query blocks
  const classes = 7;
  const tr = new Float32Array(nTrain * dim);
  const te = new Float32Array(nTest * dim);
  fillNormal(tr, streamKey(3, "train"));
  fillNormal(te, streamKey(4, "test"));
  const yTrain = Array.from({ length: nTrain }, (_, i) => (i * 5) % classes);
  const yTest = Array.from({ length: nTest }, (_, i) => (i * 3) % classes);
  const k = 9;
  const t = 0.5;
  let top1 = 0;
  let top5 = 0;
  for (let q = 0; q < nTest; q++) {
    const sims = Array.from({ length: nTrain }, (_, j) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (te[q * dim + d] as number) * (tr[j * dim + d] as number);
      return { j, s };
    }).sort((a, b) => b.s - a.s || a.j - b.j);
    const votes = new Array<number>(classes).fill(0);
    for (const { j, s } of sims.slice(0, k)) votes[yTrain[j] as number]! += Math.exp(s / t);
    const truth = votes[yTest[q] as number] as number;
    const rank = votes.filter((v, c) => c !== yTest[q] && v >= truth).length;
    if (rank < 1) top1++;
    if (rank < 5) top5++;
  }
  const r = await knnAccuracy(tr, yTrain, te, yTest, dim, { k, t });
  assert.ok(Math.abs(r.top1 - top1 / nTest) < 1e-12, `${r.top1} vs ${top1 / nTest}`);
  assert.ok(Math.abs(r.top5 - top5 / nTest) < 1e-12, `${r.top5} vs ${top5 / nTest}`);
});

test("kNN input errors", async () => {
  await assert.rejects(knnAccuracy(train, [0, 1], query, [0], 2), UserError);
  await assert.rejects(knnAccuracy(train, trainLabels, query, [0.5], 2), UserError);
  await assert.rejects(knnAccuracy(train, trainLabels, query, [0], 2, { t: 0 }), UserError);
  await assert.rejects(knnAccuracy(train, trainLabels, query, [0], 2, { k: 0 }), UserError);
});
