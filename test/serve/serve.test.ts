/**
 * `juxta serve` against a real server on a loopback port: every route, the limits, concurrent reads and
 * writes, SIGTERM draining, and kill -9 during writes (nothing acknowledged is lost, the index opens).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { updateImageIndex } from "../../src/apps/image-index.js";
import { VectorIndex } from "../../src/search/index.js";
import { type SearchServer, startServer } from "../../src/serve/server.js";
import { colourImages, png, tempDir, tinyModel } from "../apps/fixtures.js";
import { projectRoot } from "../helpers.js";

const CLI = join(projectRoot, "dist", "src", "cli", "main.js");

type Hit = { id: string; score: number; meta?: Record<string, unknown>; image_url: string };

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe("juxta serve", () => {
  let dir: string;
  let img: string;
  let indexDir: string;
  let server: SearchServer;
  let url: string;
  before(async () => {
    dir = tempDir();
    img = await colourImages(dir);
    indexDir = join(dir, "colours.index");
    await updateImageIndex({ out: indexDir, model: tinyModel(), images: img });
    server = await startServer({ index: indexDir, port: 0, root: dir });
    url = server.url;
  });
  after(() => server.close());

  it("health and metrics", async () => {
    const h = await (await fetch(`${url}/health`)).json();
    assert.deepEqual(
      { status: h.status, items: h.items, dim: h.dim, text: h.text },
      {
        status: "ok",
        items: 4,
        dim: 16,
        text: true,
      },
    );
    const m = await fetch(`${url}/metrics`);
    assert.match(m.headers.get("content-type") ?? "", /text\/plain/);
    const text = await m.text();
    assert.match(text, /juxta_http_requests_total\{route="\/health",method="GET",status="200"\} 1/);
    assert.match(text, /juxta_http_request_duration_seconds_bucket\{le="0.01",route="\/health"/);
    assert.match(text, /juxta_index_items 4/);
    assert.match(text, /juxta_inference_queue_depth 0/);
  });

  it("searches by text, by image (base64 and upload), by id, and pages", async () => {
    const byText = await post(`${url}/search`, { text: "a red square", k: 3 });
    assert.equal(byText.status, 200);
    const hits = byText.body.hits as Hit[];
    assert.equal(hits.length, 3);
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
    assert.equal(hits[0]!.image_url, `/images/${encodeURIComponent(hits[0]!.id)}`);
    assert.equal(byText.body.more, true);

    const red = join(img, "red.png");
    const b64 = (await png([220, 20, 30])).toString("base64");
    const byImage = await post(`${url}/search`, { image: b64, k: 1 });
    assert.equal((byImage.body.hits as Hit[])[0]!.id, red);
    assert.ok(Math.abs((byImage.body.hits as Hit[])[0]!.score - 1) < 1e-5);

    const form = new FormData();
    form.append(
      "image",
      new Blob([new Uint8Array(await png([30, 40, 220]))], { type: "image/png" }),
      "q.png",
    );
    form.append("k", "2");
    const up = await (await fetch(`${url}/search`, { method: "POST", body: form })).json();
    assert.equal(up.hits[0].id, join(img, "blue.png"));
    assert.equal(up.hits.length, 2);

    const like = await post(`${url}/search`, { id: red, k: 3 });
    assert.equal(like.status, 200);
    assert.ok(!(like.body.hits as Hit[]).some((h) => h.id === red), "the item itself is not its own hit");

    // Text and image together, minus a negative text: a weighted sum of normalized embeddings.
    const mixed = await post(`${url}/search`, {
      text: "a red square",
      image: b64,
      negative: "a blue square",
      weights: { text: 0.5, image: 1, negative: 0.2 },
      k: 4,
    });
    assert.equal(mixed.status, 200);
    assert.equal((mixed.body.hits as Hit[]).length, 4);

    const all = (await post(`${url}/search`, { text: "square", k: 4 })).body.hits as Hit[];
    const page = (await post(`${url}/search`, { text: "square", k: 2, offset: 2 })).body;
    assert.deepEqual(
      (page.hits as Hit[]).map((h) => h.id),
      all.slice(2).map((h) => h.id),
    );
    assert.equal(page.more, false);
  });

  it("clip-retrieval's back-end routes answer in its shapes", async () => {
    assert.deepEqual(await (await fetch(`${url}/indices-list`)).json(), ["colours.index"]);
    const knn = await post(`${url}/knn-service`, {
      text: "a red square",
      modality: "image",
      indice_name: "colours.index",
      num_images: 3,
      use_mclip: false,
      deduplicate: true,
    });
    assert.equal(knn.status, 200);
    const rows = knn.body as unknown as { id: string; similarity: number; url: string }[];
    assert.equal(rows.length, 3);
    assert.ok(rows[0]!.url.startsWith(`${url}/images/`));
    assert.equal((await fetch(rows[0]!.url)).status, 200);
    const b64 = (await png([30, 40, 220])).toString("base64");
    const byImage = (await post(`${url}/knn-service`, { image: b64, num_images: 1 })).body as unknown as {
      id: string;
    }[];
    assert.equal(byImage[0]!.id, join(img, "blue.png"));
    const meta = (await post(`${url}/metadata`, { ids: [rows[0]!.id, "nope"], indice_name: "colours.index" }))
      .body as unknown as { id: string; metadata: Record<string, unknown> }[];
    assert.equal(meta[0]!.id, rows[0]!.id);
    assert.match(String(meta[0]!.metadata.url), /^\/images\//);
    assert.deepEqual(meta[1], { id: "nope", metadata: {} });
    assert.equal((await post(`${url}/knn-service`, { text: "x", indice_name: "other" })).status, 404);
  });

  it("dedup drops near-duplicates of better hits", async () => {
    const dup = join(dir, "dups");
    mkdirSync(dup, { recursive: true });
    writeFileSync(join(dup, "red-again.png"), await png([221, 20, 30]));
    const added = await post(`${url}/items`, { paths: ["dups/red-again.png"] });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    const plain = (await post(`${url}/search`, { id: join(img, "red.png"), k: 4 })).body.hits as Hit[];
    assert.equal(plain[0]!.id, join(dup, "red-again.png"));
    const all = (await post(`${url}/search`, { text: "red", k: 5 })).body.hits as Hit[];
    const deduped = (await post(`${url}/search`, { text: "red", k: 5, dedup: true })).body.hits as Hit[];
    assert.equal(all.length, 5);
    assert.equal(deduped.length, 4);
    const ids = deduped.map((h) => h.id);
    assert.ok(ids.includes(join(img, "red.png")) !== ids.includes(join(dup, "red-again.png")));
    const del = await fetch(`${url}/items/${encodeURIComponent(join(dup, "red-again.png"))}`, {
      method: "DELETE",
    });
    assert.equal(del.status, 200);
  });

  it("items, images, uploads and deletes; writes are on disk when acknowledged", async () => {
    const red = join(img, "red.png");
    const item = await (await fetch(`${url}/items/${encodeURIComponent(red)}`)).json();
    assert.equal(item.id, red);
    const image = await fetch(`${url}${item.image_url}`);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("content-type"), "image/png");

    const form = new FormData();
    form.append(
      "file",
      new Blob([new Uint8Array(await png([10, 200, 200]))], { type: "image/png" }),
      "teal.png",
    );
    form.append("meta", JSON.stringify({ text: "a teal square" }));
    const added = await (await fetch(`${url}/items`, { method: "POST", body: form })).json();
    assert.equal(added.added, 1);
    const id = added.ids[0] as string;
    assert.match(id, /^upload:[0-9a-f]{16}$/);
    // Acknowledged means committed: the folder on disk already holds it.
    assert.ok(VectorIndex.load(indexDir).has(id));
    const again = await (await fetch(`${url}/items`, { method: "POST", body: form })).json();
    assert.deepEqual([again.added, again.skipped], [0, 1]);
    const meta = await (await fetch(`${url}/items/${encodeURIComponent(id)}`)).json();
    assert.equal(meta.meta.user.text, "a teal square");
    const served = await fetch(`${url}/images/${encodeURIComponent(id)}`);
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), await png([10, 200, 200]));

    const b64 = (await png([200, 100, 0])).toString("base64");
    const json = await post(`${url}/items`, { images: [{ image: b64, meta: { text: "orange" } }] });
    assert.equal(json.body.added, 1);

    const del = await fetch(`${url}/items/${encodeURIComponent(id)}`, { method: "DELETE" });
    assert.deepEqual((await del.json()).removed, 1);
    assert.ok(!VectorIndex.load(indexDir).has(id));
    assert.equal((await fetch(`${url}/items/${encodeURIComponent(id)}`, { method: "DELETE" })).status, 404);
    assert.equal((await fetch(`${url}/images/${encodeURIComponent(id)}`)).status, 404);
  });

  it("bad requests get JSON errors with the right status", async () => {
    const s = (body: unknown) => post(`${url}/search`, body);
    const cases: [unknown, number, RegExp][] = [
      ["{not json", 400, /not valid JSON/],
      [[1, 2], 400, /expected a JSON object/],
      [{}, 400, /nothing to search for/],
      [{ text: 5 }, 400, /field 'text': expected a string/],
      [{ text: "x", k: 0 }, 400, /field 'k'/],
      [{ text: "x", k: 100000 }, 400, /field 'k'/],
      [{ text: "x", k: 2.5 }, 400, /field 'k'/],
      [{ text: "x", offset: -1 }, 400, /field 'offset'/],
      [{ text: "x".repeat(1001) }, 400, /1001 characters, the limit is 1000/],
      [{ text: "x", colour: "red" }, 400, /unknown field 'colour'/],
      [{ text: "x", weights: { text: "a" } }, 400, /weights.text/],
      [{ text: "x", dedup: "yes" }, 400, /field 'dedup'/],
      [{ text: "x", safe: true }, 400, /no moderation policy/],
      [{ image: "not base64!" }, 400, /not base64/],
      [{ image: Buffer.from("hello").toString("base64") }, 400, /not an image/],
      [{ id: "/nowhere.png" }, 404, /no item/],
    ];
    for (const [body, status, re] of cases) {
      const r = await s(body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match(String(r.body.error), re);
      assert.equal(r.body.status, status);
    }
    const huge = await post(`${url}/search`, { text: "x".repeat(17 << 20) });
    assert.equal(huge.status, 413);
    const nf = await fetch(`${url}/nope`);
    assert.equal(nf.status, 404);
    assert.match((await nf.json()).error, /no route GET \/nope/);
    assert.equal((await fetch(`${url}/images/${encodeURIComponent("/etc/passwd")}`)).status, 404);
    assert.equal((await fetch(`${url}/images/..%2F..%2Fetc%2Fpasswd`)).status, 404);
    const outside = await post(`${url}/items`, { paths: ["../../etc/passwd"] });
    assert.equal(outside.status, 403);
    const truncated = await fetch(`${url}/search`, {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=XX" },
      body: '--XX\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG',
    });
    assert.ok(truncated.status >= 400 && truncated.status < 500, String(truncated.status));
    // The server still answers.
    assert.equal((await fetch(`${url}/health`)).status, 200);
  });

  it("a stalled client does not hold up others; concurrent reads and writes all answer", async () => {
    const sock = connect(Number(new URL(url).port), "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(
      "POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99\r\n\r\n{",
    );
    const colours: [number, number, number][] = [
      [1, 2, 3],
      [250, 250, 250],
      [90, 30, 160],
      [0, 120, 60],
    ];
    const writes = colours.map(async (c) => {
      const b64 = (await png(c)).toString("base64");
      return post(`${url}/items`, { images: [{ image: b64 }] });
    });
    const reads = Array.from({ length: 12 }, (_, i) => post(`${url}/search`, { text: `square ${i}`, k: 2 }));
    const done = await Promise.all([...writes, ...reads]);
    for (const r of done) assert.equal(r.status, 200, JSON.stringify(r.body));
    const sizes = (await Promise.all(writes)).map((w) => w.body.size as number).sort();
    assert.equal(new Set(sizes).size, 4, "each write saw the ones before it");
    assert.equal(VectorIndex.load(indexDir).size, (await (await fetch(`${url}/health`)).json()).items);
    sock.destroy();
  });

  it("write routes need the token when one is set; 429 when the queue is full", async () => {
    const other = join(dir, "token.index");
    cpSync(indexDir, other, { recursive: true, filter: (p) => !p.endsWith("writer.lock") });
    const s = await startServer({ index: other, port: 0, token: "sesame", limits: { queue: 0 } });
    try {
      const b64 = (await png([5, 5, 5])).toString("base64");
      const body = { images: [{ image: b64 }] };
      assert.equal((await post(`${s.url}/items`, body)).status, 401);
      assert.equal((await post(`${s.url}/items`, body, { authorization: "Bearer nope" })).status, 401);
      const busy = await post(`${s.url}/search`, { text: "red" });
      assert.equal(busy.status, 429);
      // The index is this server's to write: juxta index refuses while it runs.
      await assert.rejects(
        updateImageIndex({ out: other, add: true, images: img }),
        /being updated by juxta serve/,
      );
    } finally {
      await s.close();
    }
    await assert.rejects(startServer({ index: join(dir, "nothing"), port: 0 }), /not an index/);
  });

  it("dtype q8 embeds queries in int8 against the index's float32 vectors", async () => {
    const other = join(dir, "q8.index");
    cpSync(indexDir, other, { recursive: true, filter: (p) => !p.endsWith("writer.lock") });
    const s = await startServer({ index: other, port: 0, dtype: "q8" });
    try {
      const b64 = (await png([220, 20, 30])).toString("base64");
      const top = ((await post(`${s.url}/search`, { image: b64, k: 1 })).body.hits as Hit[])[0]!;
      assert.equal(top.id, join(img, "red.png"));
      // The stored vector is the fp32 embedding of this image: a q8 query is close to it, not equal.
      assert.ok(top.score > 0.99 && top.score < 1 - 1e-6, `score ${top.score}`);
    } finally {
      await s.close();
    }
  });
});

/** Start `juxta serve` as a process; resolves with its URL once it listens. */
function spawnServer(index: string): Promise<{ p: ChildProcess; url: string }> {
  const p = spawn(process.execPath, [CLI, "serve", "--index", index, "--port", "0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let err = "";
    p.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ p, url: m[1] as string });
    });
    p.once("exit", (code) => reject(new Error(`juxta serve exited (${code}): ${err}`)));
  });
}

describe("juxta serve as a process", () => {
  it("SIGTERM drains in-flight requests; kill -9 during writes loses nothing acknowledged", async () => {
    const dir = tempDir();
    const img = await colourImages(dir);
    const indexDir = join(dir, "live.index");
    await updateImageIndex({ out: indexDir, model: tinyModel(), images: img });

    let { p, url } = await spawnServer(indexDir);
    const acked: string[] = [];
    const upload = async (i: number) => {
      const b64 = (await png([i * 9, 255 - i * 9, (i * 57) % 256])).toString("base64");
      const r = await post(`${url}/items`, { images: [{ image: b64 }] });
      if (r.status === 200) acked.push(...(r.body.ids as string[]));
      return r.status;
    };
    // 20 writes at once; kill -9 the server once a few are acknowledged, mid-stream.
    const all = Array.from({ length: 20 }, (_, i) => upload(i).catch(() => 0));
    while (acked.length < 3) await new Promise((r) => setTimeout(r, 5));
    p.kill("SIGKILL");
    await Promise.all(all);
    await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(0) : p.once("exit", r)));
    assert.ok(acked.length >= 3 && acked.length < 20, `${acked.length} acknowledged`);
    const after = VectorIndex.load(indexDir);
    for (const id of acked) assert.ok(after.has(id), `acknowledged ${id} was lost`);

    // Restart (the dead server's lock is taken over); SIGTERM while requests are in flight.
    ({ p, url } = await spawnServer(indexDir));
    assert.equal((await (await fetch(`${url}/health`)).json()).items, after.size);
    const inflight = Array.from({ length: 6 }, (_, i) =>
      post(`${url}/search`, { text: `red ${i}` }).then(
        (r) => r.status,
        () => 0, // not yet accepted when the listener closed: refused, as it should be
      ),
    );
    const late = upload(40).catch(() => 0);
    await new Promise((r) => setTimeout(r, 20));
    p.kill("SIGTERM");
    const [code] = await new Promise<[number | null]>((r) => p.once("exit", (c) => r([c])));
    assert.equal(code, 0);
    for (const s of await Promise.all(inflight)) assert.ok(s === 200 || s === 503 || s === 0, String(s));
    if ((await late) === 200) assert.ok(VectorIndex.load(indexDir).has(acked.at(-1) as string));
  });
});
