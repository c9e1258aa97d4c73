/** The LanceDB backend answers like the exact VectorIndex, persists each write, filters, and approximates well. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { VectorIndex } from "../../src/search/index.js";
import { isLanceIndex, LanceIndex } from "../../src/search/lance.js";
import { tempDir } from "../apps/fixtures.js";

/** Unit vectors with low intrinsic dimension (normalize(W z), z in 8-d), like learned embeddings. */
function structured(n: number, dim: number, seed: number): Float32Array {
  const w = new Float32Array(dim * 8);
  fillNormal(w, streamKey(99, "lance-w"));
  const z = new Float32Array(n * 8);
  fillNormal(z, streamKey(seed, "lance-z"));
  const out = new Float32Array(n * dim);
  for (let r = 0; r < n; r++)
    for (let d = 0; d < dim; d++) {
      let s = 0;
      for (let j = 0; j < 8; j++) s += (w[d * 8 + j] as number) * (z[r * 8 + j] as number);
      out[r * dim + d] = s;
    }
  return out;
}

describe("LanceIndex", () => {
  const dim = 32;
  const n = 3000;
  const vectors = structured(n, dim, 1);
  const ids = Array.from({ length: n }, (_, i) => `item${i}`);
  const metas = ids.map((_, i) => ({ label: i % 3 === 0 ? "cat" : "dog", i }));
  const queries = structured(20, dim, 2);

  it("matches the exact index, filters, removes, refuses duplicates and persists", async () => {
    const dir = tempDir();
    const lance = await LanceIndex.create(dir, dim);
    await lance.add(ids, vectors, metas);
    assert.ok(isLanceIndex(dir));
    assert.equal(await lance.size(), n);
    const exact = VectorIndex.create(dim);
    exact.add(ids, vectors, metas);
    for (let q = 0; q < 5; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      const a = await lance.searchAsync(query, 10);
      const b = exact.search(query, 10);
      assert.deepEqual(
        a.map((h) => h.id),
        b.map((h) => h.id),
      );
      for (const [i, h] of a.entries()) assert.ok(Math.abs(h.score - (b[i]?.score as number)) < 1e-5);
      assert.deepEqual(a[0]?.meta, b[0]?.meta);
    }
    const cats = await lance.searchAsync(queries.subarray(0, dim), 5, {
      where: `meta LIKE '%"label":"cat"%'`,
    });
    assert.equal(cats.length, 5);
    assert.ok(cats.every((h) => (h.meta as { label: string }).label === "cat"));

    await assert.rejects(lance.add(["item7"], vectors.subarray(0, dim)), /'item7' is already in/);
    assert.equal(await lance.remove(["item1", "item2", "nope"]), 2);
    assert.equal(await lance.has("item1"), false);
    lance.close();

    const reopened = await LanceIndex.open(dir);
    assert.equal(await reopened.size(), n - 2);
    assert.equal(await reopened.has("item3"), true);
    reopened.close();
    await assert.rejects(LanceIndex.create(dir, dim), /an index is already there/);
  });

  it("an IVF-PQ index re-ranked with exact vectors keeps recall@10 ≥ 0.9", async () => {
    const dir = tempDir();
    const lance = await LanceIndex.create(dir, dim);
    await lance.add(ids, vectors);
    await lance.buildApproximate({ partitions: 16 });
    const exact = VectorIndex.create(dim);
    exact.add(ids, vectors);
    let found = 0;
    for (let q = 0; q < 20; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      const truth = new Set(exact.search(query, 10).map((h) => h.id));
      found += (await lance.searchAsync(query, 10, { nprobes: 8, refine: 10 })).filter((h) =>
        truth.has(h.id),
      ).length;
    }
    const recall = found / 200;
    assert.ok(recall >= 0.9, `recall@10 ${recall}`);
    lance.close();
  });
});
