/** Decoding ImageRefs with sharp (alpha, grayscale, orientation, bombs, broken input) and the PixelStore. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { crc32, deflateSync } from "node:zlib";
import sharp, { type Color } from "sharp";
import { type Sample, SkipLog } from "../../src/data/types.js";
import { decodeImage } from "../../src/image/decode.js";
import { buildPixelStore } from "../../src/image/store.js";

const dir = mkdtempSync(join(tmpdir(), "juxta-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const solid = (width: number, height: number, background: Color, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background } }).png().toBuffer();

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A 200-byte PNG claiming a 30000 × 30000 RGB canvas: what a decompression bomb looks like to a decoder. */
function bombPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(30000, 0);
  ihdr.writeUInt32BE(30000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    sig,
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.alloc(1000))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

test("transparent PNG is flattened on white, opaque colour kept", async () => {
  const png = await sharp({
    create: { width: 4, height: 2, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } },
  })
    .composite([{ input: await solid(2, 2, { r: 0, g: 0, b: 255, alpha: 1 }, 4), left: 0, top: 0 }])
    .png()
    .toBuffer();
  const r = await decodeImage({ kind: "bytes", bytes: png, name: "emoji.png" });
  assert.ok(r.ok);
  assert.equal(r.image.width, 4);
  assert.equal(r.image.height, 2);
  assert.equal(r.image.data.length, 4 * 2 * 3);
  assert.deepEqual([...r.image.data.subarray(0, 3)], [0, 0, 255]); // opaque blue pixel
  assert.deepEqual([...r.image.data.subarray(9, 12)], [255, 255, 255]); // transparent red → white
});

test("grayscale becomes three equal channels; raw 1-channel input too", async () => {
  const gray = await sharp(Buffer.from([10, 20, 30, 40, 50, 60]), {
    raw: { width: 3, height: 2, channels: 1 },
  })
    .png()
    .toBuffer();
  const r = await decodeImage({ kind: "bytes", bytes: gray, name: "g.png" });
  assert.ok(r.ok);
  assert.deepEqual([...r.image.data.subarray(0, 6)], [10, 10, 10, 20, 20, 20]);
  const raw = await decodeImage({
    kind: "raw",
    width: 2,
    height: 1,
    channels: 1,
    pixels: new Uint8Array([7, 9]),
  });
  assert.ok(raw.ok);
  assert.deepEqual([...raw.image.data], [7, 7, 7, 9, 9, 9]);
});

test("EXIF orientation is applied (orientation 6: rotate 90° clockwise)", async () => {
  const jpg = await sharp({ create: { width: 40, height: 20, channels: 3, background: "#808080" } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const r = await decodeImage({ kind: "bytes", bytes: jpg, name: "rot.jpg" });
  assert.ok(r.ok);
  assert.equal(r.image.width, 20);
  assert.equal(r.image.height, 40);
});

test("decompression bomb refused with a reason naming the limit", async () => {
  const bomb = bombPng();
  assert.ok(bomb.length < 300);
  const r = await decodeImage({ kind: "bytes", bytes: bomb, name: "bomb.png" });
  assert.ok(!r.ok);
  assert.match(r.reason, /^image too large: bomb\.png has more than the limit of 50000000 pixels$/);
  const small = await decodeImage(
    { kind: "bytes", bytes: await solid(100, 100, "#000"), name: "a.png" },
    { maxPixels: 5000 },
  );
  assert.ok(!small.ok);
  assert.match(small.reason, /limit of 5000 pixels/);
  const raw = await decodeImage(
    { kind: "raw", width: 100, height: 100, channels: 3, pixels: new Uint8Array(30000) },
    { maxPixels: 5000 },
  );
  assert.ok(!raw.ok && /limit of 5000/.test(raw.reason));
});

test("corrupt, truncated, missing and mis-sized inputs are failures with reasons", async () => {
  const good = await solid(8, 8, "#123456");
  const corrupt = await decodeImage({ kind: "bytes", bytes: Buffer.from("not an image"), name: "x.png" });
  assert.ok(!corrupt.ok);
  assert.match(corrupt.reason, /^unreadable image: x\.png: .*unsupported image format/);
  const cut = await decodeImage({
    kind: "bytes",
    bytes: good.subarray(0, good.length - 30),
    name: "cut.png",
  });
  assert.ok(!cut.ok);
  assert.match(cut.reason, /^unreadable image: cut\.png/);
  const missing = await decodeImage({ kind: "file", path: join(dir, "nope.png") });
  assert.ok(!missing.ok);
  assert.equal(missing.reason, `missing image: ${join(dir, "nope.png")}`);
  const raw = await decodeImage({ kind: "raw", width: 2, height: 2, channels: 3, pixels: new Uint8Array(5) });
  assert.ok(!raw.ok);
  assert.match(raw.reason, /needs 12 bytes, got 5/);
});

test("buildPixelStore: cache side, order, skips and progress", async () => {
  const files = [
    ["wide.png", await solid(100, 50, "#ff0000")],
    ["bad.png", Buffer.from("garbage")],
    ["tall.png", await solid(30, 90, "#00ff00")],
    ["tiny.png", await solid(10, 12, "#0000ff")],
  ] as const;
  const samples: Sample[] = files.map(([name, bytes], line) => {
    writeFileSync(join(dir, name), bytes);
    return {
      image: { kind: "file", path: join(dir, name) },
      text: name,
      origin: { file: "list.txt", line: line + 1 },
    };
  });
  const skips = new SkipLog();
  const progress: number[] = [];
  const { store, samples: kept } = await buildPixelStore(samples, {
    cacheSide: 20,
    concurrency: 2,
    skips,
    onProgress: (done, total) => {
      assert.equal(total, 4);
      progress.push(done);
    },
  });
  assert.deepEqual(progress, [1, 2, 3, 4]);
  assert.deepEqual(
    kept.map((s) => s.text),
    ["wide.png", "tall.png", "tiny.png"],
  );
  assert.equal(skips.total, 1);
  assert.equal(skips.examples[0]?.origin.line, 2);
  assert.match(skips.examples[0]?.reason ?? "", /^unreadable image/);
  assert.equal(store.length, 3);
  const dims = [0, 1, 2].map((i) => [store.get(i).width, store.get(i).height]);
  assert.deepEqual(dims, [
    [40, 20],
    [20, 60],
    [10, 12], // smaller than the cache side: kept as is
  ]);
  assert.ok(store.data().buffer instanceof SharedArrayBuffer);
  assert.equal(store.byteLength, (40 * 20 + 20 * 60 + 10 * 12) * 3);
  assert.deepEqual([...store.get(1).data.subarray(0, 3)], [0, 255, 0]);
  await assert.rejects(
    buildPixelStore(samples, { cacheSide: 20, skips: new SkipLog(true) }),
    /list\.txt:2: unreadable image/,
  );
});
