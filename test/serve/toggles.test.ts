/**
 * The serve toggles against a real server: `dedup` groups the result list as `juxta dedup` groups the index
 * (the same code, connected components at the threshold, one member kept: the best-ranked), and `safe`
 * hides exactly the hits the configured moderation policy does not allow.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { updateImageIndex } from "../../src/apps/image-index.js";
import { openModel } from "../../src/handle/open.js";
import { Moderator } from "../../src/moderate/moderate.js";
import type { Policy } from "../../src/moderate/policy.js";
import { dedupVectors, findDuplicates } from "../../src/search/dedup.js";
import { VectorIndex } from "../../src/search/index.js";
import { type SearchServer, startServer } from "../../src/serve/server.js";
import { colourImages, png, tempDir, tinyModel } from "../apps/fixtures.js";

type Hit = { id: string; score: number };

async function search(url: string, body: Record<string, unknown>): Promise<Hit[]> {
  const r = await fetch(`${url}/search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const j = (await r.json()) as { hits: Hit[]; error?: string };
  assert.equal(r.status, 200, j.error);
  return j.hits;
}

describe("juxta serve's dedup and safe toggles", () => {
  let img: string;
  let index: string;
  let model: string;
  let server: SearchServer;
  let policy: Policy;
  const size = 10;
  before(async () => {
    const dir = tempDir();
    img = await colourImages(dir);
    // Near-copies of red and blue, and two more colours: ten items.
    const extra: Record<string, [number, number, number]> = {
      "red-2": [221, 20, 30],
      "red-3": [215, 26, 36],
      "blue-2": [30, 42, 221],
      "blue-3": [36, 44, 214],
      purple: [140, 30, 160],
      grey: [128, 128, 128],
    };
    for (const [name, rgb] of Object.entries(extra)) writeFileSync(join(img, `${name}.png`), await png(rgb));
    model = tinyModel();
    index = join(dir, "toggles.index");
    await updateImageIndex({ out: index, model, images: img });
    policy = {
      name: "no red, flag green",
      concepts: [
        { name: "red", examples: [join(img, "red.png")], threshold: 0.999, action: "block" },
        { name: "green", examples: [join(img, "green.png")], threshold: 0.999, action: "flag" },
      ],
    };
    server = await startServer({ index, port: 0, policy });
  });
  after(() => server?.close());

  it("dedup keeps one member of each of juxta dedup's groups: the best-ranked", async () => {
    const stored = VectorIndex.load(index);
    const threshold = 0.999;
    const groups = (await findDuplicates(stored, { threshold })).groups;
    assert.ok(groups.length > 0, "the constructed set has near-duplicates");
    const plain = await search(server.url, { text: "red", k: size });
    const deduped = await search(server.url, { text: "red", k: size, dedup: threshold });
    const rank = new Map(plain.map((h, i) => [h.id, i]));
    const shown = new Set(deduped.map((h) => h.id));
    for (const g of groups) {
      const best = [...g.ids].sort((a, b) => (rank.get(a) as number) - (rank.get(b) as number))[0];
      assert.deepEqual(
        g.ids.filter((id) => shown.has(id)),
        [best],
      );
    }
    const grouped = new Set(groups.flatMap((g) => g.ids));
    for (const h of plain) if (!grouped.has(h.id)) assert.ok(shown.has(h.id), h.id);
    assert.equal(deduped.length, size - groups.reduce((s, g) => s + g.ids.length - 1, 0));
    // In rank order, with the scores of the plain search.
    assert.deepEqual(
      deduped,
      plain.filter((h) => shown.has(h.id)),
    );
    // The default threshold is 0.94, as dedupVectors' own.
    const byDefault = await search(server.url, { text: "red", k: size, dedup: true });
    const items = plain.map((h) => stored.item(h.id)!);
    const vectors = new Float32Array(items.length * stored.dim);
    for (const [r, it] of items.entries()) vectors.set(it.vector, r * stored.dim);
    const expected = dedupVectors(
      plain.map((h) => h.id),
      vectors,
      stored.dim,
    ).keep;
    assert.deepEqual(
      byDefault.map((h) => h.id),
      expected,
    );
  });

  it("safe hides what the policy blocks or flags, and only that", async () => {
    const handle = await openModel(model);
    let unsafe: Set<string>;
    try {
      const moderator = await Moderator.create(handle, policy);
      const { ids, vectors } = VectorIndex.load(index).entries();
      unsafe = new Set(
        moderator
          .moderateEmbeddings(ids, vectors)
          .filter((r) => r.decision !== "allow")
          .map((r) => r.id),
      );
    } finally {
      await handle.dispose();
    }
    assert.ok(unsafe.has(join(img, "red.png")) && unsafe.has(join(img, "green.png")));
    assert.ok(unsafe.size < size, `${unsafe.size} of ${size} unsafe`);
    const plain = await search(server.url, { text: "a blue square", k: size });
    const safe = await search(server.url, { text: "a blue square", k: size, safe: true });
    assert.deepEqual(
      safe,
      plain.filter((h) => !unsafe.has(h.id)),
    );
    // Paging runs over the filtered list.
    const second = await search(server.url, { text: "a blue square", k: 2, offset: 2, safe: true });
    assert.deepEqual(second, safe.slice(2, 4));
    // Both toggles at once: safe first, then dedup over what is left.
    const both = await search(server.url, { text: "a blue square", k: size, safe: true, dedup: 0.999 });
    assert.ok(both.every((h) => !unsafe.has(h.id)) && both.length <= safe.length);
    // clip-retrieval's use_safety_model is safe mode.
    const knn = await fetch(`${server.url}/knn-service`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        text: "a blue square",
        num_images: size,
        use_safety_model: true,
        deduplicate: false,
      }),
    });
    const rows = (await knn.json()) as { id: string }[];
    assert.deepEqual(
      rows.map((r) => r.id),
      safe.map((h) => h.id),
    );
    const health = (await (await fetch(`${server.url}/health`)).json()) as { policy: { name: string } };
    assert.equal(health.policy.name, policy.name);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /juxta_safe_hidden_total [1-9]/);
  });
});
