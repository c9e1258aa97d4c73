/** t-SNE keeps neighbours where PCA cannot: clusters spread over many directions, measured, not eyeballed. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pca2d } from "../../src/report/pca.js";
import { tsne2d } from "../../src/report/tsne.js";

/** `k` clusters of `per` points in `dim` dimensions, each centre on its own axis (PCA sees two of them). */
function clusters(k: number, per: number, dim: number) {
  let seed = 7;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const n = k * per;
  const x = new Float32Array(n * dim);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % k;
    labels.push(c);
    for (let j = 0; j < dim; j++) x[i * dim + j] = (j === c ? 4 : 0) + 0.5 * rnd();
  }
  return { x, n, labels };
}

function neighbours(x: ArrayLike<number>, n: number, dim: number, i: number, k: number): number[] {
  const d: [number, number][] = [];
  for (let j = 0; j < n; j++) {
    if (j === i) continue;
    let s = 0;
    for (let t = 0; t < dim; t++) s += (x[i * dim + t]! - x[j * dim + t]!) ** 2;
    d.push([s, j]);
  }
  return d
    .sort((a, b) => a[0] - b[0])
    .slice(0, k)
    .map((e) => e[1]);
}

/** Share of each point's k nearest neighbours in the data that are also among its k nearest on the map. */
function kept(x: ArrayLike<number>, dim: number, map: ArrayLike<number>, n: number, k = 10): number {
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const a = new Set(neighbours(x, n, dim, i, k));
    for (const j of neighbours(map, n, 2, i, k)) if (a.has(j)) hits++;
  }
  return hits / (n * k);
}

/** Leave-one-out 1-NN label accuracy on the map: do classes stay apart? */
function separated(map: ArrayLike<number>, n: number, labels: number[]): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (labels[neighbours(map, n, 2, i, 1)[0]!] === labels[i]) ok++;
  return ok / n;
}

describe("tsne2d", () => {
  test("eight clusters on eight axes: t-SNE keeps them apart and keeps more neighbours than PCA", () => {
    const dim = 32;
    const { x, n, labels } = clusters(8, 30, dim);
    const t0 = performance.now();
    const map = tsne2d(x, n, dim);
    const ms = performance.now() - t0;
    const pca = pca2d(x, n, dim).xy;
    const [tKept, pKept] = [kept(x, dim, map, n), kept(x, dim, pca, n)];
    const [tSep, pSep] = [separated(map, n, labels), separated(pca, n, labels)];
    console.log(
      `t-SNE of ${n} points: ${ms.toFixed(0)} ms; 10-NN kept ${tKept.toFixed(2)} vs PCA ${pKept.toFixed(2)}; 1-NN label ${tSep.toFixed(2)} vs PCA ${pSep.toFixed(2)}`,
    );
    assert.ok(map.every(Number.isFinite));
    assert.ok(tSep >= 0.98, `t-SNE 1-NN label accuracy ${tSep}`);
    assert.ok(tSep > pSep, `PCA ${pSep} mixes some clusters`);
    assert.ok(tKept > pKept + 0.1, `t-SNE keeps ${tKept} of neighbours, PCA ${pKept}`);
    assert.deepEqual(tsne2d(x, n, dim), map, "deterministic");
  });

  test("degenerate inputs: too few points, identical points, bad shapes", () => {
    assert.deepEqual([...tsne2d(new Float32Array(6), 3, 2)], [0, 0, 0, 0, 0, 0]);
    assert.ok(tsne2d(new Float32Array(20 * 4).fill(1), 20, 4).every(Number.isFinite));
    assert.throws(() => tsne2d(new Float32Array(5), 2, 2), /do not make 2 rows of 2/);
  });
});
