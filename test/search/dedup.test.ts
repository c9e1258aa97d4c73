import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { dedup } from "../../src/cli/commands/dedup.js";
import { dedupVectors, findDuplicates, groupPairs, neighbourPairs } from "../../src/search/dedup.js";
import { VectorIndex } from "../../src/search/index.js";
import { runCommand, tempDir } from "../apps/fixtures.js";

const DIM = 8;

/** Unit vector at angle θ (radians) from axis `a` towards axis `b`. */
function rot(a: number, b: number, theta: number): number[] {
  const v = new Array(DIM).fill(0);
  v[a] = Math.cos(theta);
  v[b] = Math.sin(theta);
  return v;
}

/**
 * A constructed set with known groups at threshold 0.94 (cos 0.94 ≈ 19.95°):
 * - a0..a3: four copies of axis 0 within 5° of each other (one group of 4);
 * - c0, c1, c2: a chain on axis 2 → 3 at 0°, 15°, 30° (c0~c1 and c1~c2 at cos 0.966, c0·c2 = 0.866):
 *   one group by connectivity though its ends are not duplicates;
 * - s0..s2: singletons (axes 5, 6, 7); x: axis 1 at 25° towards axis 0's group (cos 0.906, below).
 */
const ITEMS: [string, number[]][] = [
  ["s0", rot(5, 4, 0)],
  ["a0", rot(0, 4, 0)],
  ["c0", rot(2, 3, 0)],
  ["a1", rot(0, 4, 0.03)],
  ["x", rot(0, 1, (25 * Math.PI) / 180)],
  ["a2", rot(0, 4, 0.06)],
  ["c1", rot(2, 3, (15 * Math.PI) / 180)],
  ["s1", rot(6, 4, 0)],
  ["a3", rot(0, 4, 0.08)],
  ["c2", rot(2, 3, (30 * Math.PI) / 180)],
  ["s2", rot(7, 4, 0)],
];

function constructed(): { ids: string[]; vectors: Float32Array; index: VectorIndex } {
  const ids = ITEMS.map(([id]) => id);
  const vectors = Float32Array.from(ITEMS.flatMap(([, v]) => v));
  const index = VectorIndex.create(DIM);
  index.add(ids, vectors);
  return { ids, vectors, index };
}

describe("near-duplicate groups", () => {
  it("finds the constructed groups: connected components, first member kept", async () => {
    const { index } = constructed();
    // k = 1 forces the re-query path: the group of four needs more than one neighbour per item.
    const r = await findDuplicates(index, { threshold: 0.94, k: 1, batch: 3 });
    assert.deepEqual(
      r.groups.map((g) => g.ids),
      [
        ["a0", "a1", "a2", "a3"],
        ["c0", "c1", "c2"],
      ],
    );
    assert.deepEqual(
      r.groups.map((g) => g.keep),
      ["a0", "c0"],
    );
    assert.deepEqual(r.keep, ["s0", "a0", "c0", "x", "s1", "s2"]);
    assert.deepEqual(r.remove, ["a1", "a2", "c1", "a3", "c2"]); // index order
    // Pairs: 6 within the a-group, 2 links in the chain (c0·c2 = 0.866 is below).
    assert.deepEqual(r.counts, { items: 11, groups: 2, grouped: 7, kept: 6, removed: 5, pairs: 8 });
    const chain = r.groups[1]!;
    assert.ok(Math.abs(chain.minScore - Math.cos((15 * Math.PI) / 180)) < 1e-6);
  });

  it("the exhaustive small-set path agrees with the index path, and 'central' keeps the middle of a chain", async () => {
    const { ids, vectors, index } = constructed();
    const viaIndex = await findDuplicates(index, { threshold: 0.94 });
    const direct = dedupVectors(ids, vectors, DIM, { threshold: 0.94 });
    assert.deepEqual(
      direct.groups.map((g) => g.ids),
      viaIndex.groups.map((g) => g.ids),
    );
    assert.deepEqual(direct.keep, viaIndex.keep);
    const central = dedupVectors(ids, vectors, DIM, { threshold: 0.94, keep: "central" });
    assert.equal(central.groups[1]!.keep, "c1");
    assert.ok(central.keep.includes("c1") && !central.keep.includes("c0"));
  });

  it("one pair list serves several thresholds", async () => {
    const { ids, vectors, index } = constructed();
    const pairs = await neighbourPairs(index, ids, vectors, 0.85);
    // At 0.9 x (cos 0.906 to a0) joins the a-group and the chain's ends (0.866) still do not pair.
    const at90 = groupPairs(ids, pairs, 0.9);
    assert.deepEqual(at90.groups[0]!.ids, ["a0", "a1", "x", "a2", "a3"]);
    const at85 = groupPairs(ids, pairs, 0.85);
    assert.equal(at90.counts.pairs, 6 + 4 + 2);
    assert.equal(at85.counts.pairs, at90.counts.pairs + 1);
    const at99 = groupPairs(ids, pairs, 0.999);
    assert.ok(at99.counts.groups >= 1 && at99.groups.every((g) => g.ids.every((id) => id.startsWith("a"))));
  });

  it("removed items are not grouped", async () => {
    const { index } = constructed();
    index.remove(["a0", "c1"]);
    const r = await findDuplicates(index);
    assert.deepEqual(
      r.groups.map((g) => g.ids),
      [["a1", "a2", "a3"]],
    );
    assert.equal(r.counts.items, 9);
  });

  it("juxta dedup writes JSON, CSV and a keep list and prints counts", async () => {
    const dir = tempDir();
    const { index } = constructed();
    const saved = join(dir, "set.index");
    index.save(saved);
    const out = join(dir, "groups.json");
    const keepList = join(dir, "keep.txt");
    const [line] = await runCommand(dedup, [
      "--index",
      saved,
      "--out",
      out,
      "--keep-list",
      keepList,
      "--json",
    ]);
    assert.deepEqual(JSON.parse(line as string), {
      threshold: 0.94,
      items: 11,
      groups: 2,
      grouped: 7,
      kept: 6,
      removed: 5,
      pairs: 8,
    });
    const json = JSON.parse(readFileSync(out, "utf8"));
    assert.deepEqual(json.groups[0].ids, ["a0", "a1", "a2", "a3"]);
    assert.equal(readFileSync(keepList, "utf8"), "s0\na0\nc0\nx\ns1\ns2\n");
    const csv = join(dir, "groups.csv");
    await runCommand(dedup, ["--index", saved, "--out", csv]);
    const rows = readFileSync(csv, "utf8").trim().split("\n");
    assert.equal(rows[0], "group,id,keep,text");
    assert.deepEqual(rows.slice(1, 3), ["1,a0,1,", "1,a1,0,"]);
    assert.equal(rows.length, 1 + 7);
    const sweep = JSON.parse(
      (await runCommand(dedup, ["--index", saved, "--threshold", "0.85,0.94", "--json"]))[0]!,
    );
    assert.deepEqual(
      sweep.map((s: { threshold: number; groups: number }) => [s.threshold, s.groups]),
      [
        [0.85, 2],
        [0.94, 2],
      ],
    );
    await assert.rejects(runCommand(dedup, ["--index", saved, "--threshold", "high"]), /--threshold expects/);
    await assert.rejects(
      runCommand(dedup, ["--index", saved, "--out", join(dir, "g.txt")]),
      /\.json or \.csv/,
    );
  });
});
