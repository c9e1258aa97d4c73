/**
 * Issue 11, case 12: a write that cannot happen (missing folder, a file where a folder should be, a
 * read-only or full file system, /proc) is one line naming the file the user asked for, never a stack
 * trace or a spin; and the temp files of killed writes do not pile up.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { UserError } from "../../src/util/errors.js";
import { ensureDir, removeStaleTemps, writeFileAtomic } from "../../src/util/fs.js";
import { colourImages, tempDir, tinyModel } from "../apps/fixtures.js";
import { assertOneLineError, juxta } from "./cli.js";

let model: string;
let work: string;
before(async () => {
  model = tinyModel();
  work = tempDir();
  await colourImages(work);
  writeFileSync(join(work, "caps.txt"), "a red square\na blue thing\n");
  writeFileSync(join(work, "afile"), "not a folder");
});

const embed = (out: string) =>
  juxta(["embed", "--model", model, "--images", "img", "--out", out], { cwd: work });
const tokenizer = (out: string) =>
  juxta(
    ["tokenizer", "train", "--data", "caps.txt", "--vocab-size", "520", "--min-frequency", "1", "--out", out],
    {
      cwd: work,
    },
  );

describe("case 12: write failures are one line", () => {
  test("--out into a missing folder", () => {
    assertOneLineError(
      embed("nope/e.safetensors"),
      /^juxta: cannot write nope\/e\.safetensors: its folder nope does not exist/,
    );
    assertOneLineError(
      tokenizer("nope/t.json"),
      /^juxta: cannot write nope\/t\.json: its folder nope does not exist/,
    );
  });

  test("--out under a file", () => {
    assertOneLineError(
      embed("afile/e.npy"),
      /^juxta: cannot write afile\/e\.npy: a part of the path is a file/,
    );
    assertOneLineError(
      juxta(["index", "--model", model, "--images", "img", "--index", "afile/idx"], { cwd: work }),
      /^juxta: cannot create folder afile\/idx: .*afile is a file, not a folder/,
    );
  });

  test("--out /proc/sys/x: one line, not a 100 % CPU spin", () => {
    const r = juxta(["index", "--model", model, "--images", "img", "--index", "/proc/sys/x"], {
      cwd: work,
      timeoutMs: 30_000,
    });
    assertOneLineError(r, /cannot create folder \/proc\/sys\/x: the file system refuses new folders/);
    assertOneLineError(tokenizer("/proc/sys/x.json"), /cannot write \/proc\/sys\/x\.json/);
  });

  describe("read-only and full file systems (a small tmpfs)", () => {
    const mounts: string[] = [];
    const mount = (opts: string): string | undefined => {
      const dir = tempDir();
      const r = spawnSync("mount", ["-t", "tmpfs", "-o", opts, "tmpfs", dir], { encoding: "utf8" });
      if (r.status !== 0) return undefined;
      mounts.push(dir);
      return dir;
    };
    after(() => {
      for (const m of mounts) spawnSync("umount", [m]);
    });
    const probe = mount("size=64k");
    const skip = probe
      ? false
      : "skipped: cannot mount a tmpfs here (needs root, as in CI's container); the full-disk case is untested";

    test("a full disk: one line, and no temp file left behind", { skip }, () => {
      const full = mount("size=8k")!;
      writeFileSync(join(full, "fill"), Buffer.alloc(8192));
      const r = embed(join(full, "e.npy"));
      assertOneLineError(
        r,
        /cannot write .*e\.npy: no space left on the device \(the disk is full\) \(ENOSPC\)/,
      );
      assertOneLineError(tokenizer(join(full, "t.json")), /t\.json: no space left on the device/);
      assert.deepEqual(readdirSync(full), ["fill"]);
    });

    test("a read-only file system", { skip }, () => {
      const ro = mount("size=64k,ro")!;
      assertOneLineError(
        embed(join(ro, "e.npy")),
        /cannot write .*e\.npy: the file system is read-only \(EROFS\)/,
      );
      assertOneLineError(
        juxta(["index", "--model", model, "--images", "img", "--index", join(ro, "idx")], { cwd: work }),
        /cannot create folder .*idx: the file system is read-only/,
      );
    });
  });
});

describe("temp files and folders", () => {
  test("a write removes the temp files that killed writers of the same file left", () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    }).stdout;
    const stale = `.out.bin.${dead}.0123456789ab.tmp`;
    const live = `.out.bin.${process.ppid}.0123456789ab.tmp`;
    const other = `.other.bin.${dead}.0123456789ab.tmp`;
    for (const n of [stale, live, other]) writeFileSync(join(dir, n), Buffer.alloc(1024));
    writeFileAtomic(join(dir, "out.bin"), "new");
    assert.deepEqual(readdirSync(dir).sort(), [live, other, "out.bin"].sort());
    removeStaleTemps(join(dir, "other.bin"));
    assert.deepEqual(readdirSync(dir).sort(), [live, "out.bin"].sort());
  });

  test("ensureDir makes nested folders and names what is in the way", () => {
    const dir = tempDir();
    ensureDir(join(dir, "a", "b", "c"));
    ensureDir(join(dir, "a", "b"));
    mkdirSync(join(dir, "x"));
    writeFileSync(join(dir, "x", "f"), "");
    assert.deepEqual(readdirSync(join(dir, "a", "b")), ["c"]);
    assert.throws(
      () => ensureDir(join(dir, "x", "f", "g")),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /x\/f is a file, not a folder/);
        return true;
      },
    );
  });
});
