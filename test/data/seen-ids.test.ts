/** SeenIds: a hashed set of ids that answers as a Set<string> does. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeenIds } from "../../src/data/seen-ids.js";

test("SeenIds.add answers as a Set<string> does, through its growth, over 200k ids with repeats", () => {
  const seen = new SeenIds();
  const reference = new Set<string>();
  let x = 12345;
  for (let i = 0; i < 300_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // Path-like ids, a third of them repeats; "" and near-identical names included.
    const id = i === 0 ? "" : `shards/shard-${(x % 200_000).toString().padStart(6, "0")}.tar#img.png`;
    assert.equal(seen.add(id), !reference.has(id), id);
    reference.add(id);
  }
  assert.equal(seen.size, reference.size);
  assert.ok(reference.size > 150_000);
  assert.equal(seen.add("ab"), true);
  assert.equal(seen.add("ba"), true);
  assert.equal(seen.add("ab"), false);
});
