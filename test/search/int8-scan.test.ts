/** The int8 copy's scan: certified answers equal the exact scan's, and it refuses where it cannot prove one. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import * as browser from "../../src/search/engine-scan.browser.js";
import { engineCandidates, engineTopK } from "../../src/search/engine-scan.js";
import { VectorIndex } from "../../src/search/index.js";
import { Int8Copy, int8TopK } from "../../src/search/int8-scan.js";

function unitRows(n: number, dim: number, seed: number): Float32Array {
  const v = new Float32Array(n * dim);
  fillNormal(v, streamKey(seed, "int8-scan-test"));
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (v[r * dim + j] as number) ** 2;
    for (let j = 0; j < dim; j++) v[r * dim + j] = (v[r * dim + j] as number) / Math.sqrt(s);
  }
  return v;
}

test("int8TopK certifies and returns the exact scan's rows, removals counted toward k", async () => {
  const [n, dim, nq, k] = [6000, 64, 5, 10];
  const data = unitRows(n, dim, 1);
  const copy = new Int8Copy(dim);
  copy.sync(data, n, 0);
  const alive = new Uint8Array(n).fill(1);
  // Queries near stored rows (as a duplicate search) and random ones (as a text query's flat scores).
  const queries = unitRows(nq, dim, 2);
  queries.set(data.subarray(3 * dim, 4 * dim), 0);
  const dead = [3, 17, 4000];
  for (const r of dead) alive[r] = 0;
  const got = await int8TopK(copy, data, n, alive, queries, Array(nq).fill(k), k + dead.length);
  assert.ok(got, "the bound holds for these queries");
  const exact = await engineTopK(queries, data, n, dim, k + dead.length);
  assert.deepEqual([...got.rows], [...exact.rows]);
  for (const [i, s] of got.scores.entries()) assert.ok(Math.abs(s - (exact.scores[i] as number)) < 1e-5);
});

test("int8TopK refuses (undefined) when the candidates cannot be proven to hold the top k", async () => {
  // Every row nearly the same vector: thousands of scores inside the coding error of each other.
  const [n, dim] = [3000, 32];
  const base = unitRows(1, dim, 3);
  const noise = unitRows(n, dim, 4);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = (base[i % dim] as number) + 1e-4 * (noise[i] as number);
  const copy = new Int8Copy(dim);
  copy.sync(data, n, 0);
  const q = unitRows(1, dim, 5);
  assert.equal(await int8TopK(copy, data, n, new Uint8Array(n).fill(1), q, [10], 10), undefined);
  // The index falls back to the float32 scan and still answers exactly, scan after scan.
  const index = VectorIndex.create(dim);
  index.add(
    Array.from({ length: n * 12 }, (_, i) => `v${i}`),
    Float32Array.from({ length: n * 12 * dim }, (_, i) => data[i % data.length] as number),
  );
  for (let round = 0; round < 3; round++) {
    const hits = await index.searchAsync(q, 10);
    assert.deepEqual(
      hits.map((h) => h.id),
      index.search(q, 10).map((h) => h.id),
    );
  }
});

test("an index's later scans (through the int8 copy) stay exact across adds, removals and compaction", async () => {
  const dim = 128;
  const index = VectorIndex.create(dim);
  let next = 0;
  const addRows = (n: number) => {
    index.add(
      Array.from({ length: n }, () => `v${next++}`),
      unitRows(n, dim, 10 + next),
    );
  };
  addRows(9000); // 1.15M values: the engine path
  const queries = unitRows(6, dim, 7);
  const check = async (what: string) => {
    const got = await Promise.all(
      Array.from({ length: 6 }, (_, r) => index.searchAsync(queries.subarray(r * dim, (r + 1) * dim), 7)),
    );
    got.forEach((hits, r) => {
      const exact = index.search(queries.subarray(r * dim, (r + 1) * dim), 7);
      assert.deepEqual(
        hits.map((h) => h.id),
        exact.map((h) => h.id),
        `${what}, query ${r}`,
      );
    });
  };
  await check("first scan (float32)");
  await check("second scan (int8 copy made)");
  addRows(500);
  await check("after adding rows");
  index.remove(Array.from({ length: 5000 }, (_, i) => `v${i * 2}`));
  await check("after removing rows");
  addRows(100); // tombstones are the majority: this add compacts (rows renumbered, the copy recoded)
  await check("after compaction");
});

test("the browser build's engineCandidates ranks as the ONNX Runtime graph does", async () => {
  const [n, dim, nq] = [700, 48, 3];
  const data = unitRows(n, dim, 8);
  const copy = new Int8Copy(dim);
  copy.sync(data, n, 0);
  const codes = new Int8Array(dim * 2 * nq);
  for (let i = 0; i < codes.length; i++) codes[i] = ((i * 37) % 127) - 63;
  const combine = new Float32Array(2 * nq * nq);
  for (let r = 0; r < nq; r++) {
    combine[r * nq + r] = 0.01;
    combine[(nq + r) * nq + r] = 0.0002;
  }
  const a = await engineCandidates(codes, combine, nq, copy.codes, copy.scales, n, dim, 20);
  const b = await browser.engineCandidates(codes, combine, nq, copy.codes, copy.scales, n, dim, 20);
  assert.deepEqual([...a.rows], [...b.rows]);
  for (const [i, s] of a.scores.entries())
    assert.ok(Math.abs(s - (b.scores[i] as number)) < 1e-4 * Math.abs(s) + 1e-6);
});
