import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { before, describe, it } from "node:test";
import { readIndexModel, searchImageIndex } from "../../src/apps/image-index.js";
import { index } from "../../src/cli/commands/index.js";
import { search } from "../../src/cli/commands/search.js";
import { currentFiles } from "../../src/search/generations.js";
import { VectorIndex } from "../../src/search/index.js";
import { COLORS, colourImages, png, runCommand, tempDir, tinyModel } from "./fixtures.js";

type Hit = { id: string; score: number; meta?: { text?: string; label?: string } };

describe("juxta index and juxta search", () => {
  let model: string;
  let dir: string;
  let img: string;
  before(async () => {
    model = tinyModel();
    dir = tempDir();
    img = await colourImages(dir);
  });

  it("build, search by text and image, add, remove: a round trip", async () => {
    const out = join(dir, "colours.index");
    const built = JSON.parse(
      (await runCommand(index, ["--model", model, "--images", img, "--out", out, "--json"]))[0] as string,
    );
    assert.deepEqual(built, { added: 4, skipped: 0, removed: 0, notFound: [], size: 4 });
    assert.equal(readIndexModel(out).model, model);
    assert.equal(readIndexModel(out).dim, 16);

    const byText = JSON.parse(
      (await runCommand(search, ["--index", out, "a", "red", "square", "-k", "3", "--json"]))[0] as string,
    ) as Hit[];
    assert.equal(byText.length, 3);
    for (let i = 1; i < byText.length; i++) assert.ok(byText[i - 1]!.score >= byText[i]!.score);
    const all = Object.keys(COLORS).map((c) => join(img, `${c}.png`));
    for (const h of byText) assert.ok(all.includes(h.id), h.id);
    // An indexed image finds itself first, at cosine 1.
    const [self] = await searchImageIndex(out, { image: join(img, "blue.png") }, 1);
    assert.equal(self?.id, join(img, "blue.png"));
    assert.ok(Math.abs((self?.score ?? 0) - 1) < 1e-5);
    const lines = await runCommand(search, ["--index", out, "blue"]);
    assert.equal(lines.length, 4);
    assert.match(lines[0] as string, /^ {2}1 {2}-?\d\.\d{4} {2}\/.*\.png$/);

    // --add embeds only what is new; model comes from the index.
    const extra = join(dir, "more");
    mkdirSync(extra);
    writeFileSync(join(extra, "grey.png"), await png([128, 128, 128]));
    copyFileSync(join(img, "red.png"), join(extra, "red-copy.png"));
    const list = join(dir, "list.txt");
    writeFileSync(list, `# images to add\nmore/grey.png\n${relative(dir, join(img, "red.png"))}\n`);
    const added = JSON.parse(
      (await runCommand(index, ["--out", out, "--add", "--images", list, "--json"]))[0] as string,
    );
    assert.deepEqual(added, { added: 1, skipped: 1, removed: 0, notFound: [], size: 5 });

    // --remove takes paths as given (relative ones resolve against the working folder).
    const removed = JSON.parse(
      (
        await runCommand(index, [
          "--out",
          out,
          "--remove",
          relative(process.cwd(), join(extra, "grey.png")),
          join(dir, "never-indexed.png"),
          "--json",
        ])
      )[0] as string,
    );
    assert.deepEqual(removed, {
      added: 0,
      skipped: 0,
      removed: 1,
      notFound: [join(dir, "never-indexed.png")],
      size: 4,
    });
    const saved = VectorIndex.load(out);
    assert.equal(saved.size, 4);
    assert.ok(!saved.has(join(extra, "grey.png")));
  });

  it("manifest captions and labels are stored with the hits", async () => {
    const out = join(dir, "manifest.index");
    const manifest = join(dir, "m.jsonl");
    writeFileSync(
      manifest,
      `${JSON.stringify({ image: join(img, "red.png"), text: "a red square", label: "warm" })}\n`,
    );
    await runCommand(index, ["--model", model, "--images", manifest, "--out", out]);
    const [hit] = (await searchImageIndex(out, { text: "red" }, 5)) as Hit[];
    assert.deepEqual(hit?.meta, { text: "a red square", label: "warm" });
    assert.match(readFileSync(join(currentFiles(out), "items.jsonl"), "utf8"), /"text":"a red square"/);
  });

  it("bad input is a UserError", async () => {
    const out = join(dir, "errors.index");
    const idx = (argv: string[]) => runCommand(index, argv);
    await assert.rejects(idx(["--model", model, "--images", img]), /--index INDEX is required/);
    await assert.rejects(idx(["--images", img, "--out", out]), /--model is required to build an index/);
    await assert.rejects(idx(["--out", out, "--add", "--images", img]), /no index to update/);
    await assert.rejects(
      idx(["--model", model, "--images", join(dir, "nothing"), "--out", out]),
      /no such file/,
    );
    await idx(["--model", model, "--images", img, "--out", out]);
    await assert.rejects(idx(["--model", model, "--images", img, "--out", out]), /use --add/);
    await assert.rejects(idx(["--out", out, "--remove"]), /--remove needs the paths/);
    await assert.rejects(idx(["--out", out, "stray.png"]), /unexpected arguments/);
    const other = tinyModel(1);
    await assert.rejects(
      idx(["--model", other, "--out", out, "--add", "--images", img]),
      /cannot mix two models/,
    );
    const s = (argv: string[]) => runCommand(search, argv);
    await assert.rejects(s(["--index", img, "red"]), /not an index/);
    await assert.rejects(s(["--index", out]), /nothing to search for/);
    await assert.rejects(s(["--index", out, "red", "--image", join(img, "red.png")]), /not both/);
    await assert.rejects(s(["--index", out, "red", "-k", "0"]), /-k expects an integer ≥ 1/);
    await assert.rejects(s(["--index", out, "--image", join(dir, "gone.png")]), /missing image/);
  });
});
