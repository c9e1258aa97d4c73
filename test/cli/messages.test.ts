/**
 * What the CLI says when a user gets something wrong (issue 15's smaller things): each message names the
 * problem and the way out, and the help says what the command really writes.
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { updateImageIndex } from "../../src/apps/image-index.js";
import { formatHelp } from "../../src/cli/command.js";
import { classify } from "../../src/cli/commands/classify.js";
import { data } from "../../src/cli/commands/data.js";
import { embed } from "../../src/cli/commands/embed.js";
import { evaluate } from "../../src/cli/commands/eval.js";
import { index } from "../../src/cli/commands/index.js";
import { exportModel } from "../../src/export/index.js";
import { colourImages, runCommand, tempDir, tinyModel } from "../apps/fixtures.js";

describe("CLI messages", () => {
  const dir = tempDir();
  const model = tinyModel();
  let img = "";
  it("set-up", async () => {
    img = await colourImages(dir);
  });

  it("embed --help names the ids file embed writes beside an .npy", async () => {
    const help = formatHelp(embed);
    assert.match(help, /photos\.npy → photos\.ids\.json/);
    const out = join(dir, "photos.npy");
    await runCommand(embed, ["--model", model, "--images", img, "--out", out]);
    assert.ok(existsSync(join(dir, "photos.ids.json")), "photos.ids.json written");
    assert.ok(!existsSync(join(dir, "photos.npy.ids.json")));
  });

  it("classify on a file that is not an image says so (and suggests no flag it lacks)", async () => {
    const readme = join(dir, "README.md");
    writeFileSync(readme, "# notes\n");
    await assert.rejects(runCommand(classify, ["--model", model, "--labels", "a,b", readme]), (e: Error) => {
      assert.match(
        e.message,
        /README\.md: not an image \(\.jpg, .*\), a \.txt list of image paths, or a data set/,
      );
      assert.doesNotMatch(e.message, /--format/);
      return true;
    });
  });

  it("a --templates typo lists the template sets and the one meant", async () => {
    const red = join(img, "red.png");
    for (const cmd of [
      () => runCommand(classify, ["--model", model, "--labels", "a,b", "--templates", "phot", red]),
      () => runCommand(evaluate, ["--model", model, "--data", red, "--templates", "phot"]),
    ])
      await assert.rejects(
        cmd(),
        /^UserError: --templates: 'phot' is neither a template set \(photo, emoji, both\) nor a file of templates; did you mean photo\?$/,
      );
  });

  it("--model on an ONNX export folder says what it is and what can be read", async () => {
    const exported = join(dir, "web");
    exportModel(model, { format: "onnx", out: exported });
    await assert.rejects(
      runCommand(classify, ["--model", exported, "--labels", "a,b", join(img, "red.png")]),
      (e: Error) => {
        assert.match(
          e.message,
          /web: an ONNX export \(onnx\/model\.onnx, for transformers\.js or ONNX Runtime\)/,
        );
        assert.match(e.message, /give the run it was exported from, a Hugging Face CLIPModel folder/);
        assert.doesNotMatch(e.message, /model\.safetensors is missing/);
        return true;
      },
    );
  });

  it("data check on a semicolon or tab CSV hints at the delimiter", async () => {
    const semi = join(dir, "semi.csv");
    writeFileSync(semi, "image;text\nimg/red.png;a red square\n");
    await assert.rejects(
      runCommand(data, ["check", semi]),
      /no column 'image' in the header row \(columns: image;text\); the header looks semicolon-separated \(';'\), but this file is read as comma-separated: save it with commas/,
    );
    const tabs = join(dir, "tabs.csv");
    writeFileSync(tabs, "image\ttext\nimg/red.png\ta red square\n");
    await assert.rejects(
      runCommand(data, ["check", tabs]),
      /the header is tab-separated: name the file \.tsv/,
    );
    const fine = join(dir, "fine.csv");
    writeFileSync(fine, "image,text\nimg/red.png,a red square\n");
    assert.match((await runCommand(data, ["check", fine]))[0] as string, /^1 samples, 1 with captions/);
  });

  it("library errors name API options; the command shows its own flags for them", async () => {
    const out = join(dir, "photos.index");
    await runCommand(index, ["--model", model, "--images", img, "--index", out]);
    await assert.rejects(
      updateImageIndex({ out, model, images: img }),
      new RegExp(
        `^OptionError: ${out}: an index is already there; use add to update it, or pick another out$`,
      ),
    );
    await assert.rejects(
      runCommand(index, ["--model", model, "--images", img, "--index", out]),
      new RegExp(
        `^UserError: ${out}: an index is already there; use --add to update it, or pick another --index$`,
      ),
    );
    await assert.rejects(
      runCommand(index, ["--index", join(dir, "new.index")]),
      /^UserError: --images is required to build an index$/,
    );
  });
});
