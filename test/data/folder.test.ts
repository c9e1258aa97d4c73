import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openDataset } from "../../src/data/open.js";
import { SkipLog } from "../../src/data/types.js";
import { UserError } from "../../src/util/errors.js";
import { png, tempDir } from "./fixtures.js";

async function classFolders(): Promise<string> {
  const root = tempDir();
  for (const cls of ["golden_retriever", "cat"]) mkdirSync(join(root, cls));
  const image = await png();
  for (const f of [
    "golden_retriever/1.jpg",
    "golden_retriever/2.PNG",
    "cat/a.webp",
    "cat/b.gif",
    "cat/c.jpeg",
  ])
    writeFileSync(join(root, f), image);
  writeFileSync(join(root, "cat", "notes.txt"), "not an image");
  writeFileSync(join(root, "cat", ".DS_Store"), "hidden");
  writeFileSync(join(root, "stray.png"), image);
  mkdirSync(join(root, "cat", "deeper"));
  return root;
}

describe("image folders", () => {
  test("label = folder name, caption from the template, non-images skipped and counted", async () => {
    const root = await classFolders();
    const log = new SkipLog();
    const samples = await openDataset(root, {}, log);
    assert.deepEqual(
      samples.map((s) => [s.label, s.text, (s.image as { path: string }).path.slice(root.length + 1)]),
      [
        ["cat", "a photo of a cat.", "cat/a.webp"],
        ["cat", "a photo of a cat.", "cat/b.gif"],
        ["cat", "a photo of a cat.", "cat/c.jpeg"],
        ["golden_retriever", "a photo of a golden retriever.", "golden_retriever/1.jpg"],
        ["golden_retriever", "a photo of a golden retriever.", "golden_retriever/2.PNG"],
      ],
    );
    assert.equal(log.total, 3);
    assert.deepEqual([...log.byReason.keys()].sort(), [
      "nested folder",
      "not in a class folder",
      "unsupported file type",
    ]);
    assert.ok(log.examples.some((s) => s.origin.file === join(root, "cat", "notes.txt")));
  });

  test("custom template; a template without {label} is a UserError", async () => {
    const root = await classFolders();
    const samples = await openDataset(root, { template: "an image of {label}" }, new SkipLog());
    assert.equal(samples.at(-1)!.text, "an image of golden retriever");
    await assert.rejects(
      openDataset(root, { template: "a photo" }, new SkipLog()),
      /no \{label\} placeholder/,
    );
  });

  test("strict mode stops at the first stray file", async () => {
    const root = await classFolders();
    await assert.rejects(openDataset(root, {}, new SkipLog(true)), UserError);
  });
});

describe("format detection", () => {
  test("unknown files and folders are UserErrors listing what is supported", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "data.parquet"), "x");
    await assert.rejects(openDataset(join(dir, "data.parquet"), {}, new SkipLog()), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /cannot tell the format/);
      assert.match(e.message, /JSONL\/CSV\/TSV manifests/);
      assert.match(e.message, /CIFAR-10/);
      return true;
    });
    mkdirSync(join(dir, "empty"));
    await assert.rejects(openDataset(join(dir, "empty"), {}, new SkipLog()), /supported data sets/);
    await assert.rejects(openDataset(join(dir, "absent.jsonl"), {}, new SkipLog()), /no such file or folder/);
    await assert.rejects(
      openDataset(dir, { format: "parquet" as never }, new SkipLog()),
      /unknown format 'parquet'; choose one of: jsonl, csv/,
    );
  });

  test("a forced format overrides the extension; a folder with train/test manifests picks the split", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.png"), await png());
    writeFileSync(join(dir, "rows.txt"), "image,text\na.png,from csv\n");
    const csv = await openDataset(join(dir, "rows.txt"), { format: "csv" }, new SkipLog());
    assert.equal(csv[0]!.text, "from csv");
    writeFileSync(join(dir, "train.jsonl"), '{"image": "a.png", "text": "train row"}\n');
    writeFileSync(join(dir, "test.jsonl"), '{"image": "a.png", "text": "test row"}\n');
    assert.equal((await openDataset(dir, {}, new SkipLog()))[0]!.text, "train row");
    assert.equal((await openDataset(dir, { split: "test" }, new SkipLog()))[0]!.text, "test row");
  });
});
