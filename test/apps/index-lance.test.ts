/** `juxta index --backend lance`: the same answers as the exact index, updates in place, and search finds it. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { searchImageIndex } from "../../src/apps/image-index.js";
import { index } from "../../src/cli/commands/index.js";
import { isLanceIndex } from "../../src/search/lance.js";
import { startServer } from "../../src/serve/server.js";
import { colourImages, png, runCommand, tempDir, tinyModel } from "./fixtures.js";

describe("juxta index --backend lance", () => {
  let model: string;
  let img: string;
  let dir: string;
  before(async () => {
    model = tinyModel();
    dir = tempDir();
    img = await colourImages(dir);
  });

  it("builds, searches like the exact index, adds and removes", async () => {
    const lance = join(dir, "lance.index");
    const exact = join(dir, "exact.index");
    const built = JSON.parse(
      (
        await runCommand(index, [
          "--model",
          model,
          "--images",
          img,
          "--out",
          lance,
          "--backend",
          "lance",
          "--json",
        ])
      )[0] as string,
    );
    assert.deepEqual(built, { added: 4, skipped: 0, removed: 0, notFound: [], size: 4 });
    assert.ok(isLanceIndex(lance));
    await runCommand(index, ["--model", model, "--images", img, "--out", exact]);
    for (const query of [{ text: "a red square" }, { image: join(img, "blue.png") }]) {
      const a = await searchImageIndex(lance, query, 4);
      const b = await searchImageIndex(exact, query, 4);
      assert.deepEqual(
        a.map((h) => h.id),
        b.map((h) => h.id),
      );
      for (const [i, h] of a.entries()) assert.ok(Math.abs(h.score - (b[i]?.score as number)) < 1e-5);
    }
    const again = JSON.parse(
      (await runCommand(index, ["--out", lance, "--add", "--images", img, "--json"]))[0] as string,
    );
    assert.deepEqual(again, { added: 0, skipped: 4, removed: 0, notFound: [], size: 4 });
    const removed = JSON.parse(
      (await runCommand(index, ["--out", lance, "--remove", join(img, "red.png"), "--json"]))[0] as string,
    );
    assert.deepEqual(removed, { added: 0, skipped: 0, removed: 1, notFound: [], size: 3 });
    const hits = await searchImageIndex(lance, { text: "a red square" }, 10);
    assert.equal(hits.length, 3);
    await assert.rejects(
      runCommand(index, ["--out", lance, "--add", "--images", img, "--backend", "exact"]),
      /backend is chosen when the index is built/,
    );
    await assert.rejects(
      runCommand(index, ["--model", model, "--images", img, "--out", join(dir, "x"), "--backend", "faiss"]),
      /--backend expects one of exact, lance, got 'faiss'/,
    );
  });

  it("juxta serve serves a lance index: search, add, remove, and the writes persist", async () => {
    const lance = join(dir, "served.index");
    await runCommand(index, ["--model", model, "--images", img, "--out", lance, "--backend", "lance"]);
    const post = async (url: string, body: unknown) => {
      const r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    type Hit = { id: string; score: number };
    let server = await startServer({ index: lance, port: 0, root: dir });
    let upload = "";
    try {
      const health = await (await fetch(`${server.url}/health`)).json();
      assert.equal(health.items, 4);
      const byText = await post(`${server.url}/search`, { text: "a red square", k: 4 });
      const expected = await searchImageIndex(lance, { text: "a red square" }, 4);
      assert.deepEqual(
        (byText.body.hits as Hit[]).map((h) => h.id),
        expected.map((h) => h.id),
      );
      const b64 = (await png([10, 200, 10])).toString("base64");
      const added = await post(`${server.url}/items`, { images: [{ image: b64 }] });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      upload = (added.body.ids as string[])[0] as string;
      assert.match(upload, /^upload:/);
      const byImage = await post(`${server.url}/search`, { image: b64, k: 1 });
      assert.equal((byImage.body.hits as Hit[])[0]?.id, upload);
      const del = await fetch(`${server.url}/items/${encodeURIComponent(join(img, "red.png"))}`, {
        method: "DELETE",
      });
      assert.equal(del.status, 200);
    } finally {
      await server.close();
    }
    // A new server (and the CLI's search) sees the writes.
    server = await startServer({ index: lance, port: 0 });
    try {
      const health = await (await fetch(`${server.url}/health`)).json();
      assert.equal(health.items, 4);
      const item = await fetch(`${server.url}/items/${encodeURIComponent(upload)}`);
      assert.equal(item.status, 200);
    } finally {
      await server.close();
    }
    const ids = (await searchImageIndex(lance, { text: "a red square" }, 10)).map((h) => h.id);
    assert.ok(ids.includes(upload) && !ids.includes(join(img, "red.png")), ids.join());
  });
});
