/** pca2d against a toy set with known components and against a full eigen-decomposition (Jacobi). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pca2d } from "../../src/report/pca.js";

/** Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations. */
function jacobi(a: number[][]): { values: number[]; vectors: number[][] } {
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v: number[][] = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  );
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p]![q]! ** 2;
    if (off < 1e-26) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (m[p]![q] === 0) continue;
        const theta = (m[q]![q]! - m[p]![p]!) / (2 * m[p]![q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k]![p]!;
          const mkq = m[k]![q]!;
          m[k]![p] = c * mkp - s * mkq;
          m[k]![q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p]![k]!;
          const mqk = m[q]![k]!;
          m[p]![k] = c * mpk - s * mqk;
          m[q]![k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: m.map((r, i) => r[i]!), vectors: v };
}

describe("pca2d", () => {
  test("toy set with known orthogonal directions: coordinates and explained variance", () => {
    // Centred, uncorrelated coordinates a (variance 40) and b (variance 2) along orthonormal u and w.
    const a = [4, -4, 2, -2, 0, 0];
    const b = [0, 0, 0, 0, 1, -1];
    const u = [0.6, 0.8, 0, 0];
    const w = [0, 0, 0.8, -0.6];
    const mean = [10, -3, 0.5, 7];
    const emb = new Float32Array(6 * 4);
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 4; j++) emb[i * 4 + j] = mean[j]! + a[i]! * u[j]! + b[i]! * w[j]!;
    const { xy, explained } = pca2d(emb, 6, 4);
    // Signs: the largest loading of each component is positive (u's 0.8 and w's 0.8 already are).
    for (let i = 0; i < 6; i++) {
      assert.ok(Math.abs(xy[2 * i]! - a[i]!) < 1e-5, `row ${i} x ${xy[2 * i]} vs ${a[i]}`);
      assert.ok(Math.abs(xy[2 * i + 1]! - b[i]!) < 1e-5, `row ${i} y ${xy[2 * i + 1]} vs ${b[i]}`);
    }
    assert.ok(Math.abs(explained[0] - 40 / 42) < 1e-6 && Math.abs(explained[1] - 2 / 42) < 1e-6);
  });

  test("matches a full eigen-decomposition of the covariance on random data", () => {
    const n = 40;
    const dim = 7;
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    // Columns with different spreads and some correlation, so the components are not the axes.
    const emb = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) {
      const z = Array.from({ length: dim }, rnd);
      for (let j = 0; j < dim; j++) emb[i * dim + j] = z[j]! * (dim - j) + 0.7 * z[(j + 1) % dim]! * 3;
    }
    const mean = Array.from({ length: dim }, (_, j) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += emb[i * dim + j]!;
      return s / n;
    });
    const cov = Array.from({ length: dim }, (_, p) =>
      Array.from({ length: dim }, (_, q) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += (emb[i * dim + p]! - mean[p]!) * (emb[i * dim + q]! - mean[q]!);
        return s;
      }),
    );
    const { values, vectors } = jacobi(cov);
    const order = values.map((_, i) => i).sort((x, y) => values[y]! - values[x]!);
    const total = values.reduce((s, x) => s + x, 0);
    const { xy, explained } = pca2d(emb, n, dim);
    for (const k of [0, 1]) {
      const col = order[k]!;
      assert.ok(Math.abs(explained[k]! - values[col]! / total) < 1e-9, `explained ${k}`);
      // Projections agree up to the component's sign.
      const proj = Array.from({ length: n }, (_, i) => {
        let s = 0;
        for (let j = 0; j < dim; j++) s += (emb[i * dim + j]! - mean[j]!) * vectors[j]![col]!;
        return s;
      });
      const sign = Math.sign(proj[0]! * xy[k]!);
      for (let i = 0; i < n; i++)
        assert.ok(
          Math.abs(xy[2 * i + k]! - sign * proj[i]!) < 1e-6,
          `row ${i} component ${k}: ${xy[2 * i + k]} vs ${sign * proj[i]!}`,
        );
    }
  });

  test("degenerate inputs: one direction, identical points, no points", () => {
    const line = new Float32Array([0, 0, 1, 2, 2, 4, 3, 6]);
    const r = pca2d(line, 4, 2);
    assert.ok(Math.abs(r.explained[0] - 1) < 1e-12 && r.explained[1] < 1e-12);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(r.xy[2 * i + 1]!) < 1e-6);
    assert.ok(Math.abs(r.xy[6]! - r.xy[0]! - 3 * Math.sqrt(5)) < 1e-5);
    assert.deepEqual(pca2d(new Float32Array([1, 2, 1, 2]), 2, 2), {
      xy: new Float64Array(4),
      explained: [0, 0],
    });
    assert.deepEqual(pca2d(new Float32Array(0), 0, 5).xy.length, 0);
    assert.throws(() => pca2d(new Float32Array(5), 2, 3), /5 values do not make 2 rows of 3/);
  });
});

test("axis labels stay distinct on a narrow range", async () => {
  const { niceTicks, tickLabels } = await import("../../src/report/svg.js");
  const { ticks } = niceTicks(14.1, 14.3, 5);
  const labels = [...tickLabels(ticks).values()];
  assert.equal(new Set(labels).size, labels.length, labels.join(" "));
  assert.deepEqual([...tickLabels([0, 50, 100]).values()], ["0", "50", "100"]);
});
