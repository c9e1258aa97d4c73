/** Streaming data: the tar stream, WebDataset samples as a stream, the bounded shuffle, and embedding shards. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { embedInputs, embedToFile, idsFile, writeEmbeddings } from "../../src/apps/embed.js";
import { listImages } from "../../src/data/image-set.js";
import { shardOrder, shuffleStream } from "../../src/data/shuffle.js";
import { readTar, streamTar } from "../../src/data/tar.js";
import { SkipLog } from "../../src/data/types.js";
import { readWebDataset, streamWebDataset } from "../../src/data/webdataset.js";
import { openModel } from "../../src/handle/open.js";
import { tinyModel } from "../apps/fixtures.js";
import { png, tar, tempDir } from "./fixtures.js";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* from<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

describe("streamTar", () => {
  test("gives readTar's members (pax and GNU long names, members larger than the window)", async () => {
    const long = `${"d".repeat(80)}/${"f".repeat(60)}.txt`;
    const dir = tempDir();
    for (const gnu of [false, true]) {
      const bytes = tar(
        [
          ["a.txt", "hello"],
          [long, "long name"],
          ["dir/b.bin", new Uint8Array(3000).map((_, i) => i % 251)],
          ["c.bin", new Uint8Array(512).fill(9)],
          ["d.txt", "after"],
        ],
        { gnu },
      );
      const file = join(dir, `t${gnu}.tar`);
      writeFileSync(file, bytes);
      const want = readTar(bytes, file).map((m) => [m.name, m.offset, [...m.data]]);
      for (const window of [512, 1024, 1 << 20]) {
        const got = await collect(streamTar(file, { window }));
        assert.deepEqual(
          got.map((m) => [m.name, m.offset, [...m.data]]),
          want,
          `window ${window}`,
        );
      }
    }
  });

  test("a truncated archive is the same UserError as readTar's", async () => {
    const bytes = tar([["a.txt", "x".repeat(2000)]]).subarray(0, 1500);
    const file = join(tempDir(), "cut.tar");
    writeFileSync(file, bytes);
    const message = (() => {
      try {
        readTar(bytes, file);
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })();
    assert.match(message, /truncated tar archive at byte offset 0/);
    await assert.rejects(collect(streamTar(file)), { message });
  });
});

describe("shuffleStream", () => {
  const items = Array.from({ length: 50 }, (_, i) => i);

  test("a seeded permutation drawn through a bounded buffer; buffer 1 keeps the order", async () => {
    const a = await collect(shuffleStream(from(items), { size: 8, seed: 1, epoch: 0 }));
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      items,
    );
    assert.notDeepEqual(a, items);
    assert.deepEqual(await collect(shuffleStream(from(items), { size: 8, seed: 1, epoch: 0 })), a);
    assert.notDeepEqual(await collect(shuffleStream(from(items), { size: 8, seed: 1, epoch: 1 })), a);
    assert.deepEqual(await collect(shuffleStream(from(items), { size: 1, seed: 1, epoch: 0 })), items);
    // Bounded: the first output comes from the first `size` + 1 items.
    assert.ok(a[0]! <= 8);
  });

  test("resuming at a position gives the rest of the epoch's order exactly", async () => {
    const whole = await collect(shuffleStream(from(items), { size: 8, seed: 4, epoch: 2 }));
    for (const skip of [0, 1, 7, 8, 20, 49, 50])
      assert.deepEqual(
        await collect(shuffleStream(from(items), { size: 8, seed: 4, epoch: 2, skip })),
        whole.slice(skip),
      );
    const shards = ["a", "b", "c", "d"];
    assert.deepEqual(shardOrder(shards, 3, 1), shardOrder(shards, 3, 1));
    assert.deepEqual([...shardOrder(shards, 3, 1)].sort(), shards);
  });
});

describe("WebDataset shards as a stream", () => {
  async function shards(): Promise<string[]> {
    const dir = tempDir();
    const files: string[] = [];
    for (let s = 0; s < 2; s++) {
      const members: [string, Uint8Array | string][] = [];
      for (let i = 0; i < 3; i++) {
        const key = `s${s}/${String(i).padStart(4, "0")}`;
        members.push([`${key}.png`, await png(6, 5, 40 + 60 * i + 20 * s)]);
        members.push([`${key}.txt`, `image ${s}.${i}`]);
      }
      members.push(["s9/bad.png", "not a png"]);
      members.push(["s9/bad.txt", "broken"]);
      members.push(["s9/nocaption.png", await png()]);
      const file = join(dir, `shard-${s}.tar`);
      writeFileSync(file, tar(members));
      files.push(file);
    }
    return files;
  }

  test("the samples and skips of readWebDataset, in its order", async () => {
    const files = await shards();
    const [logA, logB] = [new SkipLog(), new SkipLog()];
    const whole = await readWebDataset(files, {}, logA);
    const streamed = await collect(streamWebDataset(files, {}, logB));
    const view = (s: (typeof whole)[number]) => [
      s.text,
      s.origin,
      s.image.kind === "bytes" && [...s.image.bytes],
    ];
    assert.deepEqual(streamed.map(view), whole.map(view));
    assert.equal(streamed.length, 8);
    assert.deepEqual([...logB.byReason], [...logA.byReason]);
  });

  test("juxta embed streams shards: the embeddings of the in-memory path, the broken image skipped", async () => {
    const files = await shards();
    const model = tinyModel();
    const handle = await openModel(model);
    try {
      const log = new SkipLog();
      const r = await embedInputs(handle, { images: files[1]!, log });
      const items = await listImages(files[1]!, { log: new SkipLog() });
      const ref = await handle.embedImagesSkipping(items.map((i) => i.ref));
      assert.deepEqual(
        r.image?.ids,
        ref.kept.map((i) => items[i]!.id),
      );
      assert.deepEqual([...(r.image?.embeds ?? [])], [...ref.embeds]);
      assert.equal(r.image?.ids.length, 3);
      assert.equal(log.total, 2, "the sample without a caption, the image that does not decode");
      await assert.rejects(embedInputs(handle, { images: files[1]! }), /cannot embed .*bad\.png/);
    } finally {
      await handle.dispose();
    }
  });

  test("embedToFile writes streamed shards as they come: the bytes writeEmbeddings writes from memory", async () => {
    const files = await shards();
    const dir = tempDir();
    const handle = await openModel(tinyModel());
    const texts = join(dir, "texts.txt");
    writeFileSync(texts, "a red square\na blue circle\n");
    try {
      const meta = { model: "m" };
      const inputs = { images: files[1]!, log: new SkipLog() };
      const whole = await embedInputs(handle, { ...inputs, texts, log: new SkipLog() });
      const imagesOnly = { dim: whole.dim, image: whole.image };
      writeEmbeddings(join(dir, "mem.npy"), imagesOnly, meta);
      writeEmbeddings(join(dir, "mem.safetensors"), whole, meta);
      const npy = await embedToFile(handle, inputs, join(dir, "out.npy"), meta);
      const st = await embedToFile(
        handle,
        { ...inputs, texts, log: new SkipLog() },
        join(dir, "out.safetensors"),
        meta,
      );
      assert.deepEqual(npy, { dim: whole.dim, images: 3, texts: 0 });
      assert.deepEqual(st, { dim: whole.dim, images: 3, texts: 2 });
      const same = (a: string, b: string) =>
        assert.ok(readFileSync(join(dir, a)).equals(readFileSync(join(dir, b))), `${a} = ${b}`);
      same("out.npy", "mem.npy");
      same(idsFile("out.npy"), idsFile("mem.npy"));
      same("out.safetensors", "mem.safetensors");
      assert.ok(!readdirSync(dir).some((f) => f.endsWith(".tmp")), "no temporary file is left");
      // A failure midway (a broken image under no skip log) leaves neither the file nor a temporary one.
      await assert.rejects(
        embedToFile(handle, { images: files[1]! }, join(dir, "bad.npy"), meta),
        /cannot embed/,
      );
      assert.ok(
        !readdirSync(dir).some((f) => f.startsWith("bad") || f.includes(".bad.")),
        readdirSync(dir).join(),
      );
    } finally {
      await handle.dispose();
    }
  });
});
