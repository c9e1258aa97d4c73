/**
 * `juxta index` updates killed at every rename and at every write of the process (strace's fault
 * injection, SIGKILL at the N-th call for each N in turn) leave the old index or the new one, never a mix,
 * and the next update completes; and an index refuses a model whose weights are not the ones it was built
 * with.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { readIndexModel, searchImageIndex } from "../../src/apps/image-index.js";
import { index } from "../../src/cli/commands/index.js";
import { lockIndex } from "../../src/search/generations.js";
import { VectorIndex } from "../../src/search/index.js";
import { projectRoot } from "../helpers.js";
import { colourImages, runCommand, tempDir, tinyModel } from "./fixtures.js";

const CLI = join(projectRoot, "dist", "src", "cli", "main.js");

function hasStrace(): boolean {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const skip = hasStrace() ? false : "skipped: strace is not installed (apt-get install -y strace)";
if (skip && process.env.CI) throw new Error(`${skip}: CI must run this test (.ci/run installs it)`);

/** What an index holds, comparably: ids in order, vector bytes, model record. */
function snapshot(dir: string): string {
  const { ids, vectors, metas } = VectorIndex.load(dir).entries();
  const { model, dim } = readIndexModel(dir);
  return JSON.stringify({ ids, metas, v: Buffer.from(vectors.buffer).toString("base64"), model, dim });
}

describe("juxta index updates under SIGKILL", { skip }, () => {
  let model: string;
  let dir: string;
  let base: string;
  let update: string[];
  let before_: string;
  let after: string;
  before(async () => {
    model = tinyModel();
    dir = tempDir();
    const img = await colourImages(dir);
    const a = join(dir, "a");
    const b = join(dir, "b");
    mkdirSync(a);
    mkdirSync(b);
    for (const c of ["red", "green", "blue"]) copyFileSync(join(img, `${c}.png`), join(a, `${c}.png`));
    copyFileSync(join(img, "yellow.png"), join(b, "yellow.png"));
    base = join(dir, "base.index");
    await runCommand(index, ["--model", model, "--images", a, "--out", base]);
    before_ = snapshot(base);
    // One update that adds and removes: every kind of write an update makes.
    update = ["--add", "--images", b, "--remove", join(a, "green.png")];
    const done = join(dir, "done.index");
    cpSync(base, done, { recursive: true });
    await runCommand(index, ["--out", done, ...update]);
    after = snapshot(done);
    assert.notEqual(before_, after);
  });

  // strace counts and kills only the calls on these paths (-P): the new generation's files, the pointer,
  // and the previous generation's files (removed after the pointer names the new one). The update
  // reuses the 3 rows' files by hard link and writes the added row as a segment of its own
  // (vectors-3.f32, items-3.jsonl) and the removed row's number (removed.u32).
  const files = (out: string) =>
    [
      ...["vectors.f32", "items.jsonl", "header.json", "model.json"].flatMap((f) => [
        join(out, "gen-000002", f),
        join(out, "gen-000001", f),
      ]),
      ...["vectors-3.f32", "items-3.jsonl", "removed.u32"].map((f) => join(out, "gen-000002", f)),
      join(out, ".current.json.tmp"),
      join(out, "current.json"),
    ].flatMap((p) => ["-P", p]);
  const expected = {
    write: { old: 6, new: 0 },
    link: { old: 2, new: 0 },
    rename: { old: 1, new: 0 },
    unlink: { old: 0, new: 4 },
  };

  for (const [syscall, want] of Object.entries(expected)) {
    it(`a kill at each ${syscall} leaves the old or the new index, and the next update completes`, async () => {
      const seen = { old: 0, new: 0 };
      let n = 1;
      for (; n < 50; n++) {
        const out = join(dir, `${syscall}-${n}.index`);
        cpSync(base, out, { recursive: true });
        // -f: the writes run on libuv's thread pool (off the event loop); one pool thread keeps the
        // order of the calls, and so each N, the same from run to run.
        const r = spawnSync(
          "strace",
          [
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            ...files(out),
            "-e",
            `trace=${syscall}`,
            "-e",
            `inject=${syscall}:signal=SIGKILL:when=${n}`,
            process.execPath,
            CLI,
            "index",
            "--out",
            out,
            ...update,
          ],
          { env: { ...process.env, UV_THREADPOOL_SIZE: "1" } },
        );
        if (r.status === 0) break;
        assert.equal(r.signal ?? r.status, r.signal ? "SIGKILL" : 137, `when=${n}: ${r.stderr}`);
        const now = snapshot(out);
        assert.ok(now === before_ || now === after, `killed at ${syscall} ${n}: a mixed index`);
        seen[now === before_ ? "old" : "new"]++;
        // The next update finishes the job (or finds it done), taking over the dead writer's lock and
        // leaving no stale generation behind.
        await runCommand(index, ["--out", out, ...update]);
        assert.equal(snapshot(out), after);
        const names = readdirSync(out).sort();
        assert.match(names.join(" "), /^current\.json gen-\d+$/);
      }
      // strace kills on entry to the call: the pointer's rename is the step from old to new.
      assert.deepEqual(seen, want);
    });
  }

  it("an index saved whole becomes generations on its first update", async () => {
    const whole = join(dir, "whole.index");
    cpSync(base, whole, { recursive: true });
    const gen = readdirSync(whole).find((f) => f.startsWith("gen-")) as string;
    const flat = join(dir, "flat.index");
    cpSync(join(whole, gen), flat, { recursive: true });
    assert.equal(snapshot(flat), before_);
    await runCommand(index, ["--out", flat, ...update]);
    assert.equal(snapshot(flat), after);
    assert.deepEqual(readdirSync(flat).sort(), ["current.json", "gen-000001"]);
  });

  it("one writer at a time: a second is refused while the first holds the lock", async () => {
    const out = join(dir, "locked.index");
    cpSync(base, out, { recursive: true });
    const lock = lockIndex(out, "juxta serve");
    await assert.rejects(
      runCommand(index, ["--out", out, ...update]),
      /being updated by juxta serve \(process \d+\)/,
    );
    lock.release();
    await runCommand(index, ["--out", out, ...update]);
    assert.equal(snapshot(out), after);
  });

  it("refuses a model retrained in place, accepts another copy of the same weights", async () => {
    const own = tinyModel();
    const out = join(dir, "fp.index");
    await runCommand(index, ["--model", own, "--images", join(dir, "a"), "--out", out]);
    const copy = join(dir, "model-copy");
    cpSync(own, copy, { recursive: true });
    const hits = await searchImageIndex(out, { text: "red" }, 2, { model: copy });
    assert.equal(hits.length, 2);
    // Same architecture, same file size, other weights: only the hash tells them apart.
    copyFileSync(join(tinyModel(7), "model.safetensors"), join(own, "model.safetensors"));
    await assert.rejects(searchImageIndex(out, { text: "red" }, 2), /embedded by other weights.*retrained/);
    await assert.rejects(
      runCommand(index, ["--out", out, "--add", "--images", join(dir, "b")]),
      /other weights/,
    );
  });
});
