/** The Loader: epoch coverage, drop_last, exact resume, views, and worker vs synchronous parity. */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Batch,
  Loader,
  type LoaderOptions,
  measureLoaderThroughput,
  sampleCaption,
} from "../../src/data/loader.js";
import type { Sample } from "../../src/data/types.js";
import { Rng } from "../../src/engine/random.js";
import type { RgbImage } from "../../src/image/decode.js";
import { PixelStore } from "../../src/image/store.js";
import { UserError } from "../../src/util/errors.js";

function dataset(n: number): { store: PixelStore; samples: Sample[] } {
  const rng = new Rng(11);
  const images: RgbImage[] = [];
  for (let i = 0; i < n; i++) {
    const width = 12 + (i % 5);
    const height = 10 + (i % 3);
    images.push({ width, height, data: new Uint8Array(width * height * 3).map(() => rng.int(256)) });
  }
  const samples: Sample[] = images.map((_, i) => ({
    image: { kind: "bytes", bytes: new Uint8Array(0), name: `img${i}` },
    text: i % 4 === 0 ? undefined : `caption ${i}`,
    label: i % 2 ? `class${i % 3}` : undefined,
    origin: { file: "data.jsonl", line: i + 1 },
  }));
  return { store: PixelStore.fromImages(images), samples };
}

async function take(loader: Loader, count: number, epoch = 0, step = 0): Promise<Batch[]> {
  const out: Batch[] = [];
  if (count === 0) return out;
  for await (const b of loader.batches(epoch, step)) {
    out.push(b);
    if (out.length === count) break;
  }
  return out;
}

const base: LoaderOptions = { batchSize: 3, size: 8, seed: 5, augment: "simclr", workers: 0 };

test("every index once per epoch; drop_last drops the incomplete batch; epochs reshuffle", async () => {
  const { store, samples } = dataset(10);
  const dropped = new Loader(store, samples, base);
  assert.equal(dropped.stepsPerEpoch, 3);
  const batches = await take(dropped, 6);
  for (const epoch of [0, 1]) {
    const ofEpoch = batches.filter((b) => b.epoch === epoch);
    assert.deepEqual(
      ofEpoch.map((b) => b.step),
      [0, 1, 2],
    );
    const seen = ofEpoch.flatMap((b) => b.indices);
    assert.equal(seen.length, 9);
    assert.equal(new Set(seen).size, 9);
    assert.ok(ofEpoch.every((b) => b.pixels.length === 3 * 3 * 64));
  }
  assert.notDeepEqual(batches[0]?.indices, batches[3]?.indices);

  const kept = new Loader(store, samples, { ...base, dropLast: false });
  assert.equal(kept.stepsPerEpoch, 4);
  const all = await take(kept, 4);
  assert.deepEqual(
    all.flatMap((b) => b.indices).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  const last = all[3] as Batch;
  assert.equal(last.indices.length, 1);
  assert.equal(last.pixels.length, 3 * 64);
  const i = last.indices[0] as number;
  assert.deepEqual(last.texts, [samples[i]?.text ?? ""]);
  assert.deepEqual(last.labels, [samples[i]?.label]);
});

test("resume from (epoch, step) yields what an uninterrupted run yields; workers match the main thread", async () => {
  const { store, samples } = dataset(10);
  const sync = new Loader(store, samples, { ...base, views: 2 });
  const full = await take(sync, 8); // epochs 0, 1 and the first two steps of epoch 2
  const threaded = new Loader(store, samples, { ...base, views: 2, workers: 2 });
  try {
    const resumed = await take(threaded, 4, 1, 1);
    assert.deepEqual(resumed, full.slice(4));
    const fromStart = await take(threaded, 3);
    assert.deepEqual(fromStart, full.slice(0, 3));
  } finally {
    await threaded.close();
  }
  // Two views of the same samples: view-major halves, each its own augmentation.
  const b = full[0] as Batch;
  const half = 3 * 3 * 64;
  assert.equal(b.pixels.length, 2 * half);
  assert.notDeepEqual(b.pixels.subarray(0, half), b.pixels.subarray(half));
  const plain = await take(new Loader(store, samples, { ...base, views: 2, augment: "none" }), 1);
  const p = (plain[0] as Batch).pixels;
  assert.deepEqual(p.subarray(0, half), p.subarray(half));
});

test("several captions: one drawn per epoch by (seed, epoch, index), the same after a resume", async () => {
  const { store, samples } = dataset(10);
  const several = samples.map((s, i) => ({ ...s, text: `a${i}`, captions: [`a${i}`, `b${i}`, `c${i}`] }));
  const loader = new Loader(store, several, base);
  const full = await take(loader, 9); // three epochs
  const drawn = new Map<number, Set<string>>();
  for (const b of full)
    b.indices.forEach((i, k) => {
      const text = b.texts[k] as string;
      assert.ok(several[i]!.captions.includes(text), `${text} is not a caption of sample ${i}`);
      assert.equal(text, sampleCaption(several[i], 5, b.epoch, i));
      if (!drawn.has(i)) drawn.set(i, new Set());
      drawn.get(i)!.add(text);
    });
  // Over three epochs most samples show more than one of their captions.
  assert.ok([...drawn.values()].filter((d) => d.size > 1).length >= 4, JSON.stringify([...drawn]));
  const resumed = await take(new Loader(store, several, base), 4, 1, 2);
  assert.deepEqual(
    resumed.map((b) => b.texts),
    full.slice(5).map((b) => b.texts),
  );
  // Another seed draws other captions; a sample with one caption always gives its text.
  const other = await take(new Loader(store, several, { ...base, seed: 6 }), 9);
  assert.notDeepEqual(
    other.flatMap((b) => b.indices.map((i, k) => [i, b.texts[k]])).sort(),
    full.flatMap((b) => b.indices.map((i, k) => [i, b.texts[k]])).sort(),
  );
  assert.equal(sampleCaption({ ...samples[1]!, captions: ["only"] }, 0, 0, 1), samples[1]!.text);
});

test("bad configurations are user errors; a closed loader refuses work", async () => {
  const { store, samples } = dataset(4);
  assert.throws(() => new Loader(store, samples, { ...base, batchSize: 5 }), UserError);
  assert.throws(() => new Loader(store, samples, { ...base, batchSize: 0 }), UserError);
  const loader = new Loader(store, samples, { ...base, workers: 1 });
  await assert.rejects(take(loader, 1, 0, 1), /resume step 1 is outside the epoch's 1 steps/);
  await loader.close();
  await assert.rejects(take(loader, 1), /loader is closed/);
});

test("throughput hook reports positive rates", async () => {
  const r = await measureLoaderThroughput({
    images: 32,
    size: 16,
    batchSize: 16,
    workers: 1,
    batches: 2,
    warmup: 1,
  });
  assert.equal(r.batches, 2);
  assert.ok(r.pairsPerSec > 0 && Number.isFinite(r.pairsPerSec));
  assert.equal(r.imagesPerSec, r.pairsPerSec);
});
