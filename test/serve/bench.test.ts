/**
 * The serve suite's code on a small index (the suite itself is `juxta bench --suite serve`, never in the
 * tests): every measurement comes back, with no failed request.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { benchServe } from "../../src/bench/serve.js";

it("bench --suite serve runs end to end on a small index", async () => {
  const r = (await benchServe({
    items: 500,
    seconds: 1,
    connections: [2],
    annItems: 2000,
    annQueries: 10,
  })) as Record<string, Record<string, number>>;
  for (const key of ["text_c2", "text_q8_c2", "health_during_image_search", "health_during_uploads"]) {
    const m = r[key] as Record<string, number>;
    assert.equal(m.errors, 0, key);
    assert.ok(m.req_per_s > 0 && m.p99_ms >= m.p50_ms, key);
  }
  assert.ok((r.health_during_uploads?.uploads_per_s as number) > 0);
  const ann = r.ann as Record<string, number>;
  assert.equal(ann.vectors, 2000);
  assert.ok(ann.recall_at_10_build >= 0.9 && ann.recall_at_10_fresh >= 0.9, JSON.stringify(ann));
});
