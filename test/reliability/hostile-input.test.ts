/**
 * Issue 11, hostile files (cases 5 and 14): each is a file a user could be handed, and the only allowed
 * outcomes are a correct read or one line saying what is wrong, never a hang, unbounded growth or a silent
 * loss of rows.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { openDataset } from "../../src/data/open.js";
import { readTar } from "../../src/data/tar.js";
import { SkipLog } from "../../src/data/types.js";
import { decodeImage, svgExternalReference } from "../../src/image/decode.js";
import { UserError } from "../../src/util/errors.js";
import { padded, png, tar, tarHeader, tempDir } from "../data/fixtures.js";
import { projectRoot } from "../helpers.js";
import { assertOneLineError, juxta } from "./cli.js";

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A pax record "<len> key=value\n" (the length counts itself). */
function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return enc.encode(`${len}${body}`);
}

/** A shard whose global pax header (type g) says `size=<value>`, then one ordinary sample. */
async function shardWithGlobalSize(value: string): Promise<Uint8Array> {
  const rec = paxRecord("size", value);
  const img = await png();
  return concat([
    tarHeader("pax_global_header", rec.length, "g"),
    padded(rec),
    tarHeader("0001.png", img.length, "0"),
    padded(img),
    tarHeader("0001.txt", 5, "0"),
    padded(enc.encode("a cat")),
    new Uint8Array(1024),
  ]);
}

describe("case 5: tar/pax headers are validated", () => {
  test("a negative pax size is one line, never a hang that grows without bound", async () => {
    const dir = tempDir();
    const file = join(dir, "bad.tar");
    writeFileSync(file, await shardWithGlobalSize("-512"));
    // In a child process with a small heap and a time limit: the old reader looped here forever.
    const r = juxta(["data", "check", file], { timeoutMs: 20_000, nodeArgs: ["--max-old-space-size=200"] });
    assertOneLineError(r, /bad\.tar: corrupt tar archive at byte offset 1024: bad pax size '-512'/);
  });

  test("a non-numeric pax size is an error, not every later member silently dropped", async () => {
    const dir = tempDir();
    const file = join(dir, "abc.tar");
    writeFileSync(file, await shardWithGlobalSize("abc"));
    const r = juxta(["data", "check", file], { timeoutMs: 20_000 });
    assertOneLineError(r, /abc\.tar: corrupt tar archive at byte offset 1024: bad pax size 'abc'/);
  });

  test("a valid archive with pax and GNU long names still reads", () => {
    const long = `${"d/".repeat(60)}0001.txt`;
    for (const gnu of [false, true]) {
      const members = readTar(tar([[long, "hello"]], { gnu }), "x.tar");
      assert.deepEqual(
        members.map((m) => [m.name, new TextDecoder().decode(m.data)]),
        [[long, "hello"]],
      );
    }
  });
});

describe("case 14: CSV quotes, gzip bombs, SVG references", () => {
  test("an unterminated quote skips its own line, not the rest of the file", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.png"), await png());
    const rows = ["image,text", "a.png,first", 'a.png,"broken', "a.png,third", "a.png,fourth", "a.png,fifth"];
    const file = join(dir, "m.csv");
    writeFileSync(file, `${rows.join("\n")}\n`);
    const log = new SkipLog();
    const samples = await openDataset(file, {}, log);
    assert.deepEqual(
      samples.map((s) => s.text),
      ["first", "third", "fourth", "fifth"],
    );
    assert.equal(log.total, 1);
    assert.equal(log.examples[0]!.origin.line, 3);
    assert.match(log.examples[0]!.reason, /^unterminated quote: a field opened on line 3 never closes/);
  });

  test("a gzipped IDX file stops inflating at the size its header declares (a gzip bomb)", () => {
    const dir = tempDir();
    // The header declares 2 images of 2×2, the stream inflates to 256 MB of zeros (about 250 KB gzipped).
    const head = new DataView(new ArrayBuffer(16));
    head.setUint32(0, 2051);
    head.setUint32(4, 2);
    head.setUint32(8, 2);
    head.setUint32(12, 2);
    const body = Buffer.alloc(256 << 20);
    Buffer.from(head.buffer).copy(body);
    writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gzipSync(body, { level: 9 }));
    const labels = Buffer.from([0, 0, 8, 1, 0, 0, 0, 2, 1, 2]);
    writeFileSync(join(dir, "train-labels-idx1-ubyte.gz"), gzipSync(labels));
    // In a child process, so that its peak memory is its own: the old reader inflated all 256 MB first.
    const script = `
      const { openDataset } = await import(${JSON.stringify(join(projectRoot, "dist/src/data/open.js"))});
      const { SkipLog } = await import(${JSON.stringify(join(projectRoot, "dist/src/data/types.js"))});
      const before = process.resourceUsage().maxRSS;
      let message = "";
      try { await openDataset(${JSON.stringify(dir)}, {}, new SkipLog()); } catch (e) { message = e.message; }
      console.log(JSON.stringify({ grewKB: process.resourceUsage().maxRSS - before, message }));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const { grewKB, message } = JSON.parse(r.stdout) as { grewKB: number; message: string };
    assert.match(message, /train-images-idx3-ubyte\.gz: inflates past the 24 bytes its IDX header declares/);
    assert.ok(grewKB < 64 * 1024, `peak memory grew by ${grewKB} KB while refusing a 256 MB bomb`);
  });

  test("an SVG that draws a file from disk is refused with a reason", async () => {
    const dir = tempDir();
    const secret = join(dir, "secret.png");
    writeFileSync(secret, await png(20, 16, 220));
    const svg = (ref: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="20" height="16">` +
      `<image ${ref} width="20" height="16"/></svg>`;
    for (const [name, ref] of [
      ["abs.svg", `href="file://${secret}"`],
      ["rel.svg", 'xlink:href="secret.png"'],
    ] as const) {
      writeFileSync(join(dir, name), svg(ref));
      const r = await decodeImage({ kind: "file", path: join(dir, name) });
      assert.equal(r.ok, false, `${name} was drawn`);
      assert.match(
        (r as { reason: string }).reason,
        /^unsafe image: .*\.svg is an SVG that refers to ".*secret\.png"/,
      );
    }
    // Self-contained SVGs (gradients by #id, data: images) still decode.
    const inline = `<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><defs><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient></defs><rect width="8" height="8" fill="url(#g)"/><image href="data:image/png;base64,${(await png()).toString("base64")}" width="4" height="4"/></svg>`;
    writeFileSync(join(dir, "ok.svg"), inline);
    const ok = await decodeImage({ kind: "file", path: join(dir, "ok.svg") });
    assert.equal(ok.ok, true);
    assert.equal(svgExternalReference(await png()), undefined);
    assert.equal(svgExternalReference(gzipSync(svg('href="/etc/passwd"'))), "/etc/passwd");
  });

  test("a missing image file is still reported as missing", async () => {
    const r = await decodeImage({ kind: "file", path: join(tempDir(), "none.png") });
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /^missing image: .*none\.png$/);
  });
});

test("UserError stays the error type for hostile input", () => {
  assert.throws(() => readTar(new Uint8Array(100), "short.tar"), UserError);
});
