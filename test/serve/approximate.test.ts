/**
 * The approximate index end to end: `juxta index --approximate` builds it and prints its recall; `juxta
 * serve --approximate` builds one in the background on an index without it (exact answers meanwhile),
 * commits it as a generation, and shows it in /health and /metrics.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { updateImageIndex } from "../../src/apps/image-index.js";
import { index as indexCommand } from "../../src/cli/commands/index.js";
import { currentFiles } from "../../src/search/generations.js";
import { HNSW_HEADER } from "../../src/search/hnsw.js";
import { openIndexStore } from "../../src/search/store.js";
import { type SearchServer, startServer } from "../../src/serve/server.js";
import { colourImages, runCommand, tempDir, tinyModel } from "../apps/fixtures.js";

describe("the approximate index in juxta index and juxta serve", () => {
  let dir: string;
  let img: string;
  let model: string;
  let server: SearchServer | undefined;
  before(async () => {
    dir = tempDir();
    img = await colourImages(dir);
    model = tinyModel();
  });
  after(() => server?.close());

  it("juxta index --approximate builds it, saves it and prints its recall", async () => {
    const out = join(dir, "cli.index");
    const printed = await runCommand(indexCommand, [
      "--model",
      model,
      "--images",
      img,
      "--index",
      out,
      "--approximate",
    ]);
    assert.equal(printed[0], `${out}: 4 images (added 4)`);
    assert.match(
      printed[1] ?? "",
      /^approximate index \(HNSW, i8, M 16, ef 512\): 4 vectors, recall@10 1\.000 against the exact scan \(4 of its own vectors as queries\), built in \d+\.\d s$/,
    );
    assert.ok(existsSync(join(currentFiles(out), HNSW_HEADER)));
    const store = await openIndexStore(out);
    assert.equal(store.approximate().state, "ready");
    store.close();
  });

  it("juxta serve --approximate builds one in the background and commits it; metrics show it", async () => {
    const out = join(dir, "serve.index");
    await updateImageIndex({ out, model, images: img });
    const exact = await openIndexStore(out);
    const q = (await exact.items([join(img, "red.png")]))[0]!.vector;
    const truth = await exact.searchAsync(q, 4);
    exact.close();
    server = await startServer({ index: out, port: 0, approximate: true });
    type Health = { approximate: { state: string; stats?: { recallAt10: number } } };
    let h: Health;
    for (;;) {
      h = (await (await fetch(`${server.url}/health`)).json()) as Health;
      if (h.approximate.state === "ready" && existsSync(join(currentFiles(out), HNSW_HEADER))) break;
      assert.notEqual(h.approximate.state, "none");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(h.approximate.stats?.recallAt10, 1);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /juxta_ann_ready 1/);
    assert.match(metrics, /juxta_ann_recall_at_10 1/);
    assert.match(metrics, /juxta_ann_graph_items 4/);
    assert.match(metrics, /juxta_ann_pending_items 0/);
    const r = await fetch(`${server.url}/search`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: join(img, "red.png"), k: 3 }),
    });
    const hits = ((await r.json()) as { hits: { id: string; score: number }[] }).hits;
    assert.deepEqual(
      hits.map((x) => x.id),
      truth.slice(1).map((x) => x.id),
    );
  });
});
