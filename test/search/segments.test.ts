/**
 * Index generations as segments: a commit reuses the previous generation's files by hard link and writes
 * only the rows added since (merging small tail segments), lists removed rows, rewrites the whole index
 * once removals are more than a quarter of it, and every generation reads back as the index it was.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fillNormal, streamKey } from "../../src/engine/random.js";
import { currentFiles } from "../../src/search/generations.js";
import { VectorIndex } from "../../src/search/index.js";
import { createIndexStore, openIndexStore } from "../../src/search/store.js";
import { UserError } from "../../src/util/errors.js";

const DIM = 8;
const tmp = () => mkdtempSync(join(tmpdir(), "juxta-segments-"));

function rows(n: number, seed: number): Float32Array {
  const v = new Float32Array(n * DIM);
  fillNormal(v, streamKey(seed, "segments"));
  return v;
}

/** What an index holds, comparably. */
function snapshot(index: VectorIndex): string {
  const { ids, vectors, metas } = index.entries();
  return JSON.stringify({ ids, metas, v: Array.from(vectors, (x) => x.toFixed(6)) });
}

const header = (dir: string) => JSON.parse(readFileSync(join(currentFiles(dir), "header.json"), "utf8"));

test("a commit links the previous segments, writes only the new rows, and reads back", async () => {
  const dir = join(tmp(), "x.index");
  const store = await createIndexStore(dir, DIM);
  const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => `item-${from + i}`);
  await store.add(
    ids(100, 0),
    rows(100, 1),
    ids(100, 0).map((id) => ({ caption: id })),
  );
  await store.commit({ "model.json": { model: "m" } });
  assert.equal(header(dir).version, 1, "one segment, nothing removed: the format `save` writes");
  const base = statSync(join(currentFiles(dir), "vectors.f32"));

  await store.add(ids(3, 100), rows(3, 2));
  await store.commit({ "model.json": { model: "m" } });
  const gen = currentFiles(dir);
  assert.deepEqual(readdirSync(gen).sort(), [
    "header.json",
    "items-100.jsonl",
    "items.jsonl",
    "model.json",
    "vectors-100.f32",
    "vectors.f32",
  ]);
  assert.equal(statSync(join(gen, "vectors.f32")).ino, base.ino, "the 100 rows' file is the same file");
  assert.equal(statSync(join(gen, "vectors-100.f32")).size, 3 * DIM * 4);
  assert.equal(header(dir).version, 2);

  // Removal: listed, not rewritten; an id removed and added again reads back as the new row.
  await store.remove(["item-5", "item-101"]);
  await store.add(["item-5"], rows(1, 3), [{ again: true }]);
  await store.commit();
  const h = header(dir);
  assert.equal(h.removed, 2);
  assert.equal(statSync(join(currentFiles(dir), "removed.u32")).size, 8);
  assert.equal(statSync(join(currentFiles(dir), "vectors.f32")).ino, base.ino);
  store.close();

  const reopened = VectorIndex.load(dir);
  assert.equal(reopened.size, 102);
  assert.ok(!reopened.has("item-101"));
  assert.deepEqual(reopened.item("item-5")?.meta, { again: true });
  const q = rows(1, 3);
  assert.equal(reopened.search(q, 1)[0]?.id, "item-5");
});

test("many small commits keep few segments; every generation reads back as the index it was", async () => {
  const dir = join(tmp(), "y.index");
  const store = await createIndexStore(dir, DIM);
  const mirror = VectorIndex.create(DIM);
  await store.add(["seed"], rows(1, 0));
  mirror.add(["seed"], rows(1, 0));
  await store.commit();
  let maxSegments = 0;
  for (let i = 0; i < 40; i++) {
    const v = rows(1 + (i % 3), 10 + i);
    const ids = Array.from({ length: 1 + (i % 3) }, (_, j) => `c${i}-${j}`);
    await store.add(
      ids,
      v,
      ids.map(() => ({ i })),
    );
    mirror.add(
      ids,
      v,
      ids.map(() => ({ i })),
    );
    if (i % 7 === 3) {
      await store.remove([`c${i - 1}-0`]);
      mirror.remove([`c${i - 1}-0`]);
    }
    await store.commit();
    maxSegments = Math.max(maxSegments, header(dir).segments?.length ?? 1);
    assert.equal(snapshot(VectorIndex.load(dir)), snapshot(mirror), `after commit ${i}`);
  }
  assert.ok(maxSegments <= 8, `${maxSegments} segments for ~80 rows in 41 commits`);
  // Removing more than a quarter of the rows: the next commit writes the index whole, compacted.
  const live = mirror.liveIds();
  const gone = live.slice(0, Math.ceil(live.length / 3));
  await store.remove(gone);
  mirror.remove(gone);
  await store.commit();
  assert.equal(header(dir).version, 1);
  assert.equal(snapshot(VectorIndex.load(dir)), snapshot(mirror));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith("gen-")),
    [currentFiles(dir).split("/").at(-1)],
    "the previous generations are gone",
  );
  store.close();
  // A reopened store continues from the files it found.
  const again = await openIndexStore(dir);
  await again.add(["last"], rows(1, 99));
  mirror.add(["last"], rows(1, 99));
  await again.commit();
  assert.equal(snapshot(VectorIndex.load(dir)), snapshot(mirror));
  again.close();
});

test("a segmented header that names other files, or does not add up, is a clear UserError", async () => {
  const dir = join(tmp(), "z.index");
  const store = await createIndexStore(dir, DIM);
  const ten = Array.from({ length: 10 }, (_, i) => `r${i}`);
  await store.add(ten, rows(10, 1));
  await store.commit();
  await store.add(["c"], rows(1, 2));
  await store.commit();
  store.close();
  const file = join(currentFiles(dir), "header.json");
  const good = readFileSync(file, "utf8");
  const bad = (edit: (h: Record<string, unknown> & { segments: Record<string, unknown>[] }) => void) => {
    const h = JSON.parse(good);
    edit(h);
    writeFileSync(file, JSON.stringify(h));
    return () => VectorIndex.load(dir);
  };
  assert.throws(
    bad((h) => {
      (h.segments[1] as Record<string, unknown>).vectors = "../../elsewhere.f32";
    }),
    (e: Error) =>
      e instanceof UserError &&
      e.message.includes("segments[1].vectors") &&
      e.message.includes("vectors-10.f32"),
  );
  assert.throws(
    bad((h) => {
      h.count = 12;
    }),
    (e: Error) => e instanceof UserError && e.message.includes("the segments hold 11 rows"),
  );
  assert.throws(
    bad((h) => {
      h.removed = 1;
    }),
    (e: Error) => e instanceof UserError && e.message.includes("removed.u32: missing"),
  );
  writeFileSync(file, good);
  assert.equal(VectorIndex.load(dir).size, 11);
});

test("a save plan's rows stay as planned until it is released, though removals would compact them", () => {
  const index = VectorIndex.create(DIM);
  const ids = Array.from({ length: 10 }, (_, i) => `r${i}`);
  index.add(ids, rows(10, 4));
  const plan = index.savePlan();
  const vectors = plan.write.find((f) => f.name === "vectors.f32")?.data as Uint8Array;
  const before = Buffer.from(vectors).toString("base64");
  index.remove(ids.slice(0, 8)); // the majority: the next add would compact
  index.add(["new"], rows(1, 5));
  assert.equal(Buffer.from(vectors).toString("base64"), before, "the planned bytes are untouched");
  plan.release();
  index.remove(["new"]);
  index.add(["newer"], rows(1, 6));
  const next = index.savePlan();
  assert.equal(index.size, 3);
  assert.equal(next.write.find((f) => f.name === "vectors.f32")?.data.byteLength, 3 * DIM * 4);
  next.release();
});
