/** Exact vector index: add/remove/search, persistence round trip, corruption, brute-force agreement. */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { benchSearch } from "../../src/bench/search.js";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { engineTopK } from "../../src/search/engine-scan.js";
import { type Metric, type SearchHit, VectorIndex } from "../../src/search/index.js";
import { UserError } from "../../src/util/errors.js";

const tmp = () => mkdtempSync(join(tmpdir(), "juxta-"));
const ids = (hits: SearchHit[]) => hits.map((h) => h.id);

function small(): VectorIndex {
  const index = VectorIndex.create(2);
  index.add(["east", "north", "northeast", "west"], Float32Array.from([2, 0, 0, 5, 1, 1, -3, 0]), [
    { label: "E" },
    null,
    undefined,
    [1, 2],
  ]);
  return index;
}

test("cosine search normalizes, ranks by similarity and returns metadata", () => {
  const index = small();
  assert.equal(index.size, 4);
  const hits = index.search(Float32Array.from([10, 0]), 3);
  assert.deepEqual(ids(hits), ["east", "northeast", "north"]);
  assert.ok(Math.abs(hits[0]!.score - 1) < 1e-6);
  assert.ok(Math.abs(hits[1]!.score - Math.SQRT1_2) < 1e-6);
  assert.ok(Math.abs(hits[2]!.score) < 1e-6);
  assert.deepEqual(hits[0]!.meta, { label: "E" });
  assert.equal(hits[1]!.meta, undefined);
  assert.equal(hits[2]!.meta, null);
  // k past the size returns everything; k = 0 nothing.
  assert.equal(index.search(Float32Array.from([0, 1]), 10).length, 4);
  assert.deepEqual(index.search(Float32Array.from([0, 1]), 0), []);
});

test("equal scores come back in insertion order", () => {
  const index = VectorIndex.create(2, { metric: "dot" });
  index.add(["b", "a", "c", "d"], Float32Array.from([1, 0, 1, 0, 0, 1, 1, 0]));
  assert.deepEqual(ids(index.search(Float32Array.from([1, 0]), 2)), ["b", "a"]);
  assert.deepEqual(ids(index.search(Float32Array.from([1, 0]), 3)), ["b", "a", "d"]);
});

test("remove hides vectors; a removed id can be added again", () => {
  const index = small();
  assert.equal(index.remove(["east", "nope"]), 1);
  assert.equal(index.size, 3);
  assert.equal(index.has("east"), false);
  assert.deepEqual(ids(index.search(Float32Array.from([1, 0]), 1)), ["northeast"]);
  index.add(["east"], Float32Array.from([1, -0.01]));
  assert.deepEqual(ids(index.search(Float32Array.from([1, 0]), 2)), ["east", "northeast"]);
  assert.equal(index.search(Float32Array.from([1, 0]), 1)[0]!.meta, undefined);
  // Churn: tombstones are reclaimed on add, and the survivors keep their order and metadata.
  for (let i = 0; i < 50; i++) {
    index.add([`tmp${i}`], Float32Array.from([1, 0]));
    index.remove([`tmp${i}`]);
  }
  assert.equal(index.size, 4);
  assert.deepEqual(ids(index.search(Float32Array.from([0, 1]), 4)), ["north", "northeast", "west", "east"]);
  assert.deepEqual(index.search(Float32Array.from([-1, 0]), 1)[0]!.meta, [1, 2]);
});

test("bad additions and queries are UserErrors", () => {
  const index = small();
  assert.throws(() => index.add(["east"], Float32Array.from([1, 0])), /already present/);
  assert.throws(() => index.add(["x", "x"], Float32Array.from([1, 0, 0, 1])), /already present/);
  assert.throws(() => index.add(["x"], Float32Array.from([0, 0])), /all zeros/);
  assert.throws(() => index.add(["x"], Float32Array.from([Number.NaN, 1])), /non-finite/);
  assert.throws(() => index.add(["x", "y"], Float32Array.from([1, 0])), UserError);
  assert.throws(() => index.add(["x"], Float32Array.from([1, 0]), []), UserError);
  assert.throws(() => index.search(Float32Array.from([1, 0, 0]), 1), UserError);
  assert.throws(() => index.search(Float32Array.from([1, 0]), -1), UserError);
  assert.equal(index.size, 4);
  assert.throws(() => VectorIndex.create(0), UserError);
  assert.throws(() => VectorIndex.create(4, { metric: "l2" as Metric }), UserError);
});

test("save compacts removed rows; load restores the same answers", () => {
  const index = small();
  index.remove(["north"]);
  const dir = join(tmp(), "idx");
  index.save(dir);
  assert.deepEqual(readdirSync(dir).sort(), ["header.json", "items.jsonl", "vectors.f32"]);
  const header = JSON.parse(readFileSync(join(dir, "header.json"), "utf8"));
  assert.equal(header.count, 3);
  assert.equal(readFileSync(join(dir, "vectors.f32")).length, 3 * 2 * 4);
  const loaded = VectorIndex.load(dir);
  assert.equal(loaded.size, 3);
  assert.equal(loaded.dim, 2);
  assert.equal(loaded.metric, "cosine");
  for (const q of [
    [1, 0],
    [0, 1],
    [-1, 0.2],
  ]) {
    const query = Float32Array.from(q);
    assert.deepEqual(loaded.search(query, 3), index.search(query, 3));
  }
  // Saving again over the same folder replaces it.
  loaded.remove(["west"]);
  loaded.save(dir);
  assert.equal(VectorIndex.load(dir).size, 2);
  assert.deepEqual(readdirSync(dir).sort(), ["header.json", "items.jsonl", "vectors.f32"]);
});

test("a missing, truncated or corrupted index is a clear UserError", () => {
  const fresh = () => {
    const dir = join(tmp(), "idx");
    small().save(dir);
    return dir;
  };
  assert.throws(() => VectorIndex.load(join(tmp(), "absent")), /cannot read the index header/);

  let dir = fresh();
  truncateSync(join(dir, "vectors.f32"), 20);
  assert.throws(
    () => VectorIndex.load(dir),
    (e: Error) => e instanceof UserError && /vectors\.f32: 20 bytes, expected 32/.test(e.message),
  );

  dir = fresh();
  writeFileSync(join(dir, "header.json"), "{ not json");
  assert.throws(() => VectorIndex.load(dir), /not valid JSON/);

  dir = fresh();
  const header = JSON.parse(readFileSync(join(dir, "header.json"), "utf8"));
  writeFileSync(join(dir, "header.json"), JSON.stringify({ ...header, dim: 3 }));
  assert.throws(() => VectorIndex.load(dir), /expected 48/);

  dir = fresh();
  const lines = readFileSync(join(dir, "items.jsonl"), "utf8").split("\n");
  lines[1] = `{"id": 7}${" ".repeat(Math.max(0, lines[1]!.length - 9))}`; // same byte length
  writeFileSync(join(dir, "items.jsonl"), lines.join("\n"));
  assert.throws(
    () => VectorIndex.load(dir),
    (e: Error) => e instanceof UserError && e.message.includes("items.jsonl:2 (field 'id')"),
  );

  dir = fresh();
  writeFileSync(
    join(dir, "items.jsonl"),
    `${readFileSync(join(dir, "items.jsonl"), "utf8")}{"id":"extra"}\n`,
  );
  assert.throws(() => VectorIndex.load(dir), /items\.jsonl: \d+ bytes, expected/);

  dir = fresh();
  const raw = readFileSync(join(dir, "vectors.f32"));
  raw.writeFloatLE(Number.NaN, 4);
  writeFileSync(join(dir, "vectors.f32"), raw);
  assert.throws(() => VectorIndex.load(dir), /non-finite/);
});

for (const metric of ["cosine", "dot"] as const) {
  test(`search equals brute force on random data (${metric})`, () => {
    const dim = 19; // not a multiple of 8: exercises the remainder loop
    const n = 600;
    const v = new Float32Array(n * dim);
    fillNormal(v, streamKey(5, metric));
    const index = VectorIndex.create(dim, { metric });
    const names = Array.from({ length: n }, (_, i) => `item${i}`);
    index.add(names.slice(0, 250), v.subarray(0, 250 * dim));
    index.add(names.slice(250), v.subarray(250 * dim));
    const removed = names.filter((_, i) => i % 10 === 3);
    index.remove(removed);
    const gone = new Set(removed);
    const nq = 12;
    const q = new Float32Array(nq * dim);
    fillNormal(q, streamKey(6, metric));
    const norm = (x: Float32Array, r: number) =>
      metric === "dot" ? 1 : Math.hypot(...x.subarray(r * dim, (r + 1) * dim));
    const batch = index.searchBatch(q, 7);
    for (let r = 0; r < nq; r++) {
      const expected = names
        .map((id, i) => {
          let s = 0;
          for (let d = 0; d < dim; d++) s += (q[r * dim + d] as number) * (v[i * dim + d] as number);
          return { id, i, score: s / (norm(q, r) * norm(v, i)) };
        })
        .filter((e) => !gone.has(e.id))
        .sort((a, b) => b.score - a.score || a.i - b.i)
        .slice(0, 7);
      const got = index.search(q.subarray(r * dim, (r + 1) * dim), 7);
      assert.deepEqual(ids(got), ids(expected as SearchHit[]));
      for (const [j, h] of got.entries()) assert.ok(Math.abs(h.score - expected[j]!.score) < 1e-5);
      assert.deepEqual(batch[r], got);
    }
  });
}

test("benchSearch reports the median latency of exact top-10 search", async () => {
  const r = await benchSearch({ n: 3000, dim: 32, queries: 5 });
  assert.equal(r.search_vectors, 3000);
  assert.equal(r.search_dim, 32);
  assert.ok(r.search_median_ms > 0 && r.search_median_ms < 1000, `${r.search_median_ms} ms`);
});

test("the ONNX Runtime scan of a large index returns the JavaScript scan's results, removals included", async () => {
  const [n, dim] = [5000, 256]; // 1.28M values: above the threshold for the engine path
  const index = VectorIndex.create(dim);
  const v = new Float32Array(n * dim);
  for (let i = 0; i < v.length; i++)
    v[i] = Math.sin(i * 12.9898) * 43758.5453 - Math.floor(Math.sin(i * 12.9898) * 43758.5453) - 0.5;
  index.add(
    Array.from({ length: n }, (_, i) => `v${i}`),
    v,
    Array.from({ length: n }, (_, i) => ({ i })),
  );
  const q = v.slice(7 * dim, 9 * dim); // queries equal to rows 7 and 8
  index.remove(["v8", "v100", "v4000"]);
  const fast = await index.searchBatchAsync(q, 10);
  const exact = index.searchBatch(q, 10);
  assert.deepEqual(
    fast.map((hits) => hits.map((h) => h.id)),
    exact.map((hits) => hits.map((h) => h.id)),
  );
  assert.equal(fast[0]![0]!.id, "v7");
  assert.ok(!fast[1]!.some((h) => h.id === "v8"), "a removed row is never returned");
  assert.deepEqual(fast[0]![0]!.meta, { i: 7 });
  fast.flat().forEach((h, j) => {
    assert.ok(Math.abs(h.score - exact.flat()[j]!.score) < 1e-5);
  });
});

test("concurrent searchAsync calls on a large index share batched scans and each gets its own exact answer", async () => {
  const [n, dim] = [4200, 256]; // above the engine path's threshold
  const index = VectorIndex.create(dim);
  const v = new Float32Array(n * dim);
  fillNormal(v, streamKey(3, "batched-scan"));
  index.add(
    Array.from({ length: n }, (_, i) => `v${i}`),
    v,
  );
  index.remove(["v3", "v77"]);
  // 70 queries at once (more than one batch holds), with different k; one invalid query among them.
  const queries = Array.from({ length: 70 }, (_, r) => v.slice(r * dim, (r + 1) * dim));
  const ks = queries.map((_, r) => 1 + (r % 13));
  const bad = assert.rejects(
    index.searchAsync(new Float32Array(dim), 5),
    (e: Error) => e instanceof UserError && e.message.includes("all zeros"),
  );
  const got = await Promise.all(queries.map((q, r) => index.searchAsync(q, ks[r]!)));
  await bad;
  got.forEach((hits, r) => {
    const exact = index.search(queries[r]!, ks[r]!);
    assert.deepEqual(ids(hits), ids(exact), `query ${r}`);
  });
  assert.ok(!got.flat().some((h) => h.id === "v3" || h.id === "v77"), "removed rows are never returned");
  // A removal while scans are queued: the answers drop the removed item and still hold k hits.
  const pending = index.searchAsync(queries[10]!, 5);
  index.remove(["v10"]);
  const after = await pending;
  assert.equal(after.length, 5);
  assert.ok(!after.some((h) => h.id === "v10"));
});

test("the engine scan in row chunks (the event loop free between them) equals one scan over all rows", async () => {
  const [rows, dim] = [3000, 16];
  const v = new Float32Array(rows * dim);
  fillNormal(v, streamKey(5, "chunked-scan"));
  // Exact ties across chunk borders: rows 10, 1500 and 2999 are the same vector.
  v.copyWithin(1500 * dim, 10 * dim, 11 * dim);
  v.copyWithin(2999 * dim, 10 * dim, 11 * dim);
  const q = v.slice(10 * dim, 13 * dim);
  const whole = await engineTopK(q, v, rows, dim, 25, rows * dim);
  for (const chunkRows of [7, 256, 1000]) {
    const parts = await engineTopK(q, v, rows, dim, 25, chunkRows * dim);
    assert.deepEqual(parts.rows, whole.rows, `chunks of ${chunkRows} rows`);
    assert.deepEqual(parts.scores, whole.scores);
  }
  assert.deepEqual([...whole.rows.slice(0, 3)], [10n, 1500n, 2999n], "ties keep row order");
});
