/**
 * The approximate index (usearch HNSW) behind the exact index's API: recall against the exact scan,
 * exact answers while it builds, items added and removed after the build, saved and reopened with the
 * index's generations, and one clear line when usearch is missing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { HNSW_GRAPH, HNSW_KEYS, HnswIndex } from "../../src/search/hnsw.js";
import { VectorIndex } from "../../src/search/index.js";
import { createIndexStore, openIndexStore } from "../../src/search/store.js";
import { tempDir } from "../apps/fixtures.js";
import { projectRoot } from "../helpers.js";

const DIM = 32;

/** Unit vectors with intrinsic dimension 8 (as learned embeddings have low intrinsic dimension). */
function structured(n: number, seed: number): Float32Array {
  const w = new Float32Array(DIM * 8);
  fillNormal(w, streamKey(0, "hnsw-test-w"));
  const z = new Float32Array(n * 8);
  fillNormal(z, streamKey(seed, "hnsw-test-z"));
  const x = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++)
    for (let d = 0; d < DIM; d++) {
      let v = 0;
      for (let j = 0; j < 8; j++) v += (w[d * 8 + j] as number) * (z[i * 8 + j] as number);
      x[i * DIM + d] = v;
    }
  return x;
}

const ids = (n: number, prefix = "v") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function overlap(a: { id: string }[], b: { id: string }[]): number {
  const s = new Set(b.map((h) => h.id));
  return a.filter((h) => s.has(h.id)).length / Math.max(1, b.length);
}

describe("approximate index (usearch HNSW)", () => {
  it("re-ranks with exact scores, measures its recall, answers exactly until it is ready", async () => {
    const exact = VectorIndex.create(DIM);
    exact.add(ids(3000), structured(3000, 1));
    const hnsw = new HnswIndex(exact);
    assert.equal(hnsw.status.state, "none");
    const queries = structured(50, 2);
    const q0 = queries.subarray(0, DIM);
    const building = hnsw.build({ recallQueries: 100 });
    assert.equal(hnsw.status.state, "building");
    // Until the graph is ready every answer is the exact scan's.
    assert.deepEqual(await hnsw.search(q0, 10), exact.search(q0, 10));
    const stats = await building;
    assert.equal(hnsw.status.state, "ready");
    assert.equal(stats.items, 3000);
    assert.equal(stats.recallQueries, 100);
    assert.ok(stats.recallAt10 >= 0.9 && stats.recallAt10 <= 1, String(stats.recallAt10));
    let sum = 0;
    for (let r = 0; r < 50; r++) {
      const q = queries.subarray(r * DIM, (r + 1) * DIM);
      const approx = await hnsw.search(q, 10);
      const truth = exact.search(q, 10);
      assert.equal(approx.length, 10);
      sum += overlap(approx, truth);
      // Scores are the exact index's own, in order.
      const rescored = exact.rank(
        q,
        approx.map((h) => h.id),
        10,
      );
      assert.deepEqual(approx, rescored);
    }
    assert.ok(sum / 50 >= 0.9, `recall on fresh queries ${sum / 50}`);
  });

  it("finds items added after the build and never returns removed ones", async () => {
    const exact = VectorIndex.create(DIM);
    exact.add(ids(2000), structured(2000, 3));
    const hnsw = new HnswIndex(exact);
    await hnsw.build({ recallQueries: 20 });
    const fresh = structured(5, 4);
    exact.add(ids(5, "new"), fresh);
    hnsw.added(ids(5, "new"));
    assert.equal(hnsw.status.pending, 5);
    const hit = await hnsw.search(fresh.subarray(2 * DIM, 3 * DIM), 3);
    assert.equal(hit[0]?.id, "new2");
    assert.ok(Math.abs((hit[0]?.score as number) - 1) < 1e-6);
    // Remove the top 40 of a query: none comes back, and k hits still do.
    const q = structured(1, 5);
    const top = exact.search(q, 40).map((h) => h.id);
    exact.remove(top);
    hnsw.removed(top);
    const after = await hnsw.search(q, 10);
    assert.equal(after.length, 10);
    assert.ok(after.every((h) => !top.includes(h.id)));
    assert.ok(overlap(after, exact.search(q, 10)) >= 0.8);
  });

  it("is saved with the index's generations and reopened; updates keep it", async () => {
    const dir = join(tempDir(), "ann.index");
    const store = await createIndexStore(dir, DIM);
    await store.add(ids(2000), structured(2000, 6));
    assert.equal(store.approximate().state, "none");
    const stats = await store.buildApproximate({ recallQueries: 50 });
    await store.commit({ "model.json": { test: true } });
    const q = structured(1, 7);
    const before = await store.searchAsync(q, 10);

    const reopened = await openIndexStore(dir);
    assert.deepEqual(reopened.approximate(), { state: "ready", pending: 0, stats });
    assert.deepEqual(await reopened.searchAsync(q, 10), before);
    const exactOnly = await openIndexStore(dir, { exact: true });
    assert.equal(exactOnly.approximate().state, "none");

    // An update: the graph file is linked into the new generation unchanged; the keys follow the rows.
    await reopened.remove([before[0]!.id]);
    await reopened.add(["late"], q);
    await reopened.commit({ "model.json": { test: true } });
    const gens = readdirSync(dir).filter((f) => f.startsWith("gen-"));
    assert.equal(gens.length, 1);
    assert.ok(statSync(join(dir, gens[0]!, HNSW_GRAPH)).size > 0);
    assert.equal(statSync(join(dir, gens[0]!, HNSW_KEYS)).size, 2000 * 4);
    const third = await openIndexStore(dir);
    assert.equal(third.approximate().pending, 1);
    const hits = await third.searchAsync(q, 10);
    assert.equal(hits[0]?.id, "late");
    assert.ok(!hits.some((h) => h.id === before[0]!.id));

    // A keys file of the wrong size is named, not read.
    writeFileSync(join(dir, gens[0]!, HNSW_KEYS), Buffer.alloc(12));
    await assert.rejects(openIndexStore(dir), /hnsw\.keys: 12 bytes, expected 8000; the file is corrupted/);
  });

  it("says in one line how to install usearch when it is missing", () => {
    // A resolve hook that hides usearch, as on a platform where the optional install was skipped.
    const hook = `export async function resolve(s, c, next) { if (s === "usearch") throw Object.assign(new Error("Cannot find package 'usearch'"), { code: "ERR_MODULE_NOT_FOUND" }); return next(s, c); }`;
    const register = `import { register } from "node:module"; register("data:text/javascript,${encodeURIComponent(hook)}");`;
    const script = `
      import { VectorIndex } from "./dist/src/search/index.js";
      import { HnswIndex } from "./dist/src/search/hnsw.js";
      const x = VectorIndex.create(4); x.add(["a"], Float32Array.of(1, 0, 0, 0));
      try { await new HnswIndex(x).build(); } catch (e) { console.log(e.constructor.name + ": " + e.message); }`;
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        `data:text/javascript,${encodeURIComponent(register)}`,
        "--input-type=module",
        "-e",
        script,
      ],
      { cwd: projectRoot, encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      "UserError: the approximate index needs the optional package usearch, which is not installed: npm install usearch@2.25.1\n",
    );
  });
});
