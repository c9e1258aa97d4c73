/** The streamed training loader: epochs over shuffled shards, exact mid-epoch starts, workers, bad images. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { Batch } from "../../src/data/loader.js";
import { readManifest, streamManifest } from "../../src/data/manifest.js";
import { shardOrder, shuffleStream } from "../../src/data/shuffle.js";
import { type EpochStream, StreamLoader, type StreamLoaderOptions } from "../../src/data/stream-loader.js";
import { SkipLog } from "../../src/data/types.js";
import { streamWebDataset } from "../../src/data/webdataset.js";
import { png, tar, tempDir } from "./fixtures.js";

/** `shards` shards of `per` captioned PNGs (sizes and colours vary); `broken` keys get bytes that are no image. */
async function shardSet(shards: number, per: number, broken: string[] = []): Promise<string[]> {
  const dir = tempDir();
  const files: string[] = [];
  for (let s = 0; s < shards; s++) {
    const members: [string, Uint8Array | string][] = [];
    for (let i = 0; i < per; i++) {
      const key = `s${s}-${String(i).padStart(3, "0")}`;
      const bytes = broken.includes(key)
        ? new TextEncoder().encode("not a png")
        : await png(6 + i, 5 + s, 20 * i);
      members.push([`${key}.png`, bytes], [`${key}.txt`, `caption ${key}`]);
    }
    const file = join(dir, `shard-${s}.tar`);
    writeFileSync(file, tar(members));
    files.push(file);
  }
  return files;
}

function epochStream(shards: string[], seed: number, buffer: number): EpochStream {
  return (epoch, skip) =>
    shuffleStream(streamWebDataset(shardOrder(shards, seed, epoch), {}, new SkipLog()), {
      size: buffer,
      seed,
      epoch,
      skip,
    });
}

async function take(loader: StreamLoader, count: number, epoch = 0, step = 0): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.batches(epoch, step)) {
    out.push(b);
    if (out.length === count) break;
  }
  return out;
}

const base = { batchSize: 4, size: 8, cacheSide: 10, seed: 3, augment: "simclr" as const, views: 2 };

describe("StreamLoader", () => {
  test("epochs cover the stream once each, reshuffled; a mid-epoch start yields the same batches", async () => {
    const shards = await shardSet(3, 7);
    const opts: StreamLoaderOptions = { ...base, samples: 21, workers: 0 };
    const loader = new StreamLoader(epochStream(shards, 3, 5), opts);
    assert.equal(loader.stepsPerEpoch, 5, "21 samples, batches of 4, the last one dropped");
    const batches = await take(loader, 15);
    for (const epoch of [0, 1, 2]) {
      const of = batches.filter((b) => b.epoch === epoch);
      assert.deepEqual(
        of.map((b) => b.step),
        [0, 1, 2, 3, 4],
      );
      assert.deepEqual(
        of.flatMap((b) => b.indices),
        Array.from({ length: 20 }, (_, i) => i),
      );
      assert.equal(new Set(of.flatMap((b) => b.texts)).size, 20, "20 distinct samples an epoch");
      assert.ok(of.every((b) => b.pixels.length === 2 * 4 * 3 * 64));
    }
    const order = (e: number) => batches.filter((b) => b.epoch === e).flatMap((b) => b.texts);
    assert.notDeepEqual(order(0), order(1), "each epoch has its own order");
    // Starting at epoch 1, step 2 (a resume) gives exactly the batches from there on.
    const resumed = await take(new StreamLoader(epochStream(shards, 3, 5), opts), 8, 1, 2);
    assert.deepEqual(resumed, batches.slice(7, 15));
    await assert.rejects(take(loader, 1, 0, 5), /resume step 5 is outside the epoch's 5 steps/);
  });

  test("worker threads give the synchronous mode's pixels", async () => {
    const shards = await shardSet(2, 6);
    const sync = await take(
      new StreamLoader(epochStream(shards, 1, 4), { ...base, samples: 12, workers: 0 }),
      4,
    );
    const pooled = new StreamLoader(epochStream(shards, 1, 4), { ...base, samples: 12, workers: 2 });
    try {
      assert.deepEqual(await take(pooled, 4), sync);
    } finally {
      await pooled.close();
    }
  });

  test("an image that does not decode is replaced in its batch and reported; positions stay", async () => {
    const shards = await shardSet(1, 8, ["s0-002"]);
    const skips: string[] = [];
    const loader = new StreamLoader(epochStream(shards, 0, 1), {
      ...base,
      samples: 8,
      workers: 0,
      onSkip: (origin, reason) => skips.push(`${origin.file}:${origin.line}: ${reason}`),
    });
    const [first, second] = await take(loader, 2);
    assert.deepEqual(first?.indices, [0, 1, 2, 3]);
    assert.deepEqual(first?.texts, ["caption s0-000", "caption s0-001", "caption s0-003", "caption s0-003"]);
    assert.deepEqual(second?.texts, ["caption s0-004", "caption s0-005", "caption s0-006", "caption s0-007"]);
    assert.equal(skips.length, 1);
    assert.match(
      skips[0] as string,
      /shard-0\.tar:3: unreadable image: .*\(replaced in its batch by another sample\)/,
    );
    // A strict log stops at it instead.
    const strict = new SkipLog(true);
    const stopping = new StreamLoader(epochStream(shards, 0, 1), {
      ...base,
      samples: 8,
      workers: 0,
      onSkip: (origin, reason) => strict.add(origin, reason),
    });
    await assert.rejects(
      take(stopping, 1),
      /shard-0\.tar:3: unreadable image.*--strict makes bad input fatal/,
    );
  });

  test("a stream shorter than its count is a clear error", async () => {
    const shards = await shardSet(1, 5);
    const loader = new StreamLoader(epochStream(shards, 0, 2), { ...base, samples: 9, workers: 0 });
    await assert.rejects(
      take(loader, 3),
      /epoch 1's data stream ended after 5 samples, but it held 9 when counted; did the data change/,
    );
  });
});

describe("streamManifest", () => {
  test("the same samples and skips as readManifest, lines across read windows", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.png"), await png());
    const rows: string[] = [];
    // Long rows so that the file spans several 1 MiB windows.
    for (let i = 0; i < 900; i++)
      rows.push(
        JSON.stringify({ image: i % 7 === 3 ? "gone.png" : "a.png", text: `row ${i} ${"x".repeat(2000)}` }),
      );
    rows.splice(10, 0, "{broken json", "", JSON.stringify({ image: "a.png", text: ["one", "two"] }), "[1]");
    const file = join(dir, "m.jsonl");
    writeFileSync(file, rows.join("\n"));
    const logA = new SkipLog();
    const logB = new SkipLog();
    const whole = await readManifest(file, "jsonl", {}, logA);
    const streamed: unknown[] = [];
    for await (const s of streamManifest(file, {}, logB)) streamed.push(s);
    assert.equal(whole.length, 900 - Math.ceil((900 - 3) / 7) + 1);
    assert.deepEqual(streamed, whole);
    assert.equal(logB.total, logA.total);
    assert.deepEqual([...logB.byReason], [...logA.byReason]);
  });
});
