/**
 * Distributed embedding end to end on a real Redis (Debian's redis-server on a loopback port) with three
 * `juxta worker` processes: one is killed (SIGKILL, by strace at its first rename: the moment it writes
 * its first shard) in the middle of a shard, the others finish the queue; every image is embedded exactly
 * once and the merged index equals a single-process `juxta index` of the same images.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { updateImageIndex } from "../../src/apps/image-index.js";
import { mergeShards } from "../../src/distributed/merge.js";
import { embedQueueStatus, enqueueEmbedding } from "../../src/distributed/queue.js";
import { VectorIndex } from "../../src/search/index.js";
import { png, tempDir, tinyModel } from "../apps/fixtures.js";
import { projectRoot } from "../helpers.js";

function which(cmd: string): boolean {
  try {
    execFileSync("which", [cmd], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const missing = ["redis-server", "strace"].filter((c) => !which(c));
const skip =
  missing.length > 0
    ? `skipped: ${missing.join(" and ")} not installed (apt-get install -y ${missing.join(" ")})`
    : false;
if (skip && process.env.CI) throw new Error(`${skip}: CI must run this test (.ci/run installs them)`);

const CLI = join(projectRoot, "dist", "src", "cli", "main.js");

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Proc {
  child: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const collect = (b: Buffer) =>
    lines.push(
      ...b
        .toString()
        .split("\n")
        .filter((l) => l !== ""),
    );
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on("exit", (code, signal) => r({ code, signal })),
  );
  return { child, lines, exited };
}

async function until(what: string, ok: () => Promise<boolean> | boolean, seconds: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("distributed embedding on BullMQ", { skip }, () => {
  let redis: Proc;
  let url: string;
  const workers: Proc[] = [];
  before(async () => {
    const port = await freePort();
    redis = start("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ]);
    url = `redis://127.0.0.1:${port}`;
    await until("redis-server", () => redis.lines.some((l) => l.includes("Ready to accept connections")), 20);
  });
  after(async () => {
    for (const w of workers) w.child.kill("SIGKILL");
    redis?.child.kill("SIGTERM");
    await redis?.exited;
  });

  it("three workers, one killed mid-shard: every image embedded once, the index equals one process's", async () => {
    const dir = tempDir();
    const model = tinyModel();
    const img = join(dir, "img");
    const good: string[] = [];
    execFileSync("mkdir", ["-p", img]);
    for (let i = 0; i < 44; i++) {
      const file = join(img, `im${String(i).padStart(2, "0")}.png`);
      writeFileSync(file, await png([(i * 37) % 256, (i * 91) % 256, (i * 53) % 256]));
      good.push(file);
    }
    writeFileSync(join(img, "broken.png"), "this is not a PNG");
    const out = join(dir, "emb");

    const queued = await enqueueEmbedding({ queue: { url }, model, images: img, out, shardSize: 8 });
    assert.deepEqual(queued, { items: 45, shards: 6, finished: 0, queued: 6 });

    const worker = (pre: string[] = []) => {
      const [cmd, ...args] = [...pre, process.execPath, CLI, "worker", "--queue", url, "--lock-seconds", "1"];
      const p = start(cmd as string, args);
      workers.push(p);
      return p;
    };
    // The first worker dies at its first rename: the atomic write of the first shard it embedded.
    const doomed = worker([
      "strace",
      "-f",
      "-qq",
      "-o",
      "/dev/null",
      "-e",
      "trace=rename",
      "-e",
      "inject=rename:signal=SIGKILL:when=1",
    ]);
    const death = await doomed.exited;
    assert.equal(
      death.signal ?? (death.code === 137 ? "SIGKILL" : death.code),
      "SIGKILL",
      doomed.lines.join("\n"),
    );
    assert.ok(
      doomed.lines.some((l) => /shard \w+: started/.test(l)),
      doomed.lines.join("\n"),
    );
    assert.ok(!doomed.lines.some((l) => /images embedded/.test(l)), "the killed worker finished no shard");
    assert.equal((await embedQueueStatus({ url }, out)).finished, 0, "the killed shard's file never landed");
    assert.ok(
      readdirSync(join(out, "shards")).some((f) => f.endsWith(".tmp")),
      "it died mid-write",
    );

    const a = worker();
    const b = worker();
    await until("all shards", async () => (await embedQueueStatus({ url }, out)).finished === 6, 120);
    const status = await embedQueueStatus({ url }, out);
    assert.deepEqual(status.counts, { waiting: 0, active: 0, delayed: 0, failed: 0 });
    assert.ok(!readdirSync(join(out, "shards")).some((f) => f.endsWith(".tmp")), "stale temp file removed");

    // Exactly once: each shard finished by one worker, one time. A worker prints its line just after the
    // shard's file lands, so wait for the lines (then check that no shard was reported twice).
    const reported = () =>
      [...a.lines, ...b.lines]
        .map((l) => /shard (\w+): \d+ images embedded/.exec(l)?.[1])
        .filter((s): s is string => s !== undefined);
    await until("every shard reported", () => reported().length >= 6, 20);
    await new Promise((r) => setTimeout(r, 300));
    const done = reported();
    assert.equal(done.length, 6, done.join(" "));
    assert.equal(new Set(done).size, 6);

    const merged = join(dir, "merged.index");
    const m = mergeShards(out, merged);
    assert.equal(m.items, 44);
    assert.deepEqual(m.skipped.length, 1);
    assert.match(m.skipped[0] as string, /broken\.png/);

    const list = join(dir, "good.txt");
    writeFileSync(list, `${good.join("\n")}\n`);
    const single = join(dir, "single.index");
    await updateImageIndex({ out: single, model, images: list });
    const x = VectorIndex.load(merged).entries();
    const y = VectorIndex.load(single).entries();
    assert.deepEqual([...x.ids].sort(), [...y.ids].sort());
    const rowOf = new Map(y.ids.map((id, r) => [id, r]));
    const dim = 16;
    let worst = 0;
    x.ids.forEach((id, r) => {
      const s = rowOf.get(id) as number;
      for (let d = 0; d < dim; d++)
        worst = Math.max(
          worst,
          Math.abs((x.vectors[r * dim + d] as number) - (y.vectors[s * dim + d] as number)),
        );
    });
    assert.ok(worst < 1e-5, `largest difference ${worst}`);

    // Running the same command again queues nothing: every shard is finished.
    const again = await enqueueEmbedding({ queue: { url }, model, images: img, out, shardSize: 8 });
    assert.deepEqual(again, { items: 45, shards: 6, finished: 6, queued: 0 });

    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    assert.equal((await a.exited).code, 0);
    assert.equal((await b.exited).code, 0);
  });
});
