import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { embed } from "../../src/cli/commands/embed.js";
import { evaluate } from "../../src/cli/commands/eval.js";
import { index } from "../../src/cli/commands/index.js";
import { search } from "../../src/cli/commands/search.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { colourImages, runCommand, tempDir, tinyModel, writeJsonl } from "./fixtures.js";

describe("--dtype in the commands", () => {
  let model: string;
  let dir: string;
  let img: string;
  let test: string;
  before(async () => {
    model = tinyModel();
    dir = tempDir();
    img = await colourImages(dir);
    const p = (c: string) => join(img, `${c}.png`);
    test = writeJsonl(join(dir, "test.jsonl"), [
      { image: p("red"), text: "a red square", label: "warm" },
      { image: p("yellow"), text: "a yellow square", label: "warm" },
      { image: p("green"), text: "a green square", label: "cold" },
      { image: p("blue"), text: "a blue square", label: "cold" },
    ]);
  });

  it("juxta eval --dtype q8 reports its drift against fp32: cosines and the change of each metric", async () => {
    const [line] = await runCommand(evaluate, ["--model", model, "--data", test, "--dtype", "q8", "--json"]);
    const r = JSON.parse(line as string);
    assert.equal(r.dtype, "q8");
    const { drift } = r;
    for (const c of [drift.image_cosine, drift.text_cosine]) {
      assert.ok(c.worst > 0.99 && c.worst <= c.median && c.median < 1, JSON.stringify(c));
    }
    assert.deepEqual(
      Object.keys(drift.fp32),
      Object.keys(r).filter((k) => !["dtype", "drift"].includes(k)),
    );
    for (const k of ["image_to_text.R@10", "text_to_image.R@1", "zero_shot.top1"]) {
      const [group, metric] = k.split(".") as [string, string];
      const expected = Math.round((r[group][metric] - drift.fp32[group][metric]) * 1000) / 10;
      assert.equal(drift.delta[k], expected, k);
    }
    const [table] = await runCommand(evaluate, ["--model", model, "--data", test, "--dtype", "fp16"]);
    assert.match(
      table as string,
      /fp16 vs fp32 on the same set:\n {2}image embedding cosine: median (0\.99|1\.00)\d+, worst/,
    );
  });

  it("embed, index and search take --dtype; an unknown one is refused by name", async () => {
    const emb = (dtype: string) => {
      const out = join(dir, `${dtype}.safetensors`);
      return runCommand(embed, ["--model", model, "--images", img, "--dtype", dtype, "--out", out]).then(
        () => readSafetensors(out).tensors.get("image_embeds")?.data as Float32Array,
      );
    };
    const [fp32, q8] = [await emb("fp32"), await emb("q8")];
    assert.equal(fp32.length, q8.length);
    assert.notDeepEqual(Array.from(fp32), Array.from(q8));
    const idx = join(dir, "q8.index");
    await runCommand(index, ["--model", model, "--images", img, "--index", idx, "--dtype", "q8"]);
    const [hits] = await runCommand(search, ["--index", idx, "--dtype", "q8", "--json", "a red square"]);
    assert.equal(JSON.parse(hits as string).length, 4);
    await assert.rejects(
      runCommand(embed, ["--model", model, "--images", img, "--dtype", "int4", "--out", join(dir, "x.npy")]),
      /--dtype.*fp32\|fp16\|q8|fp32, fp16, q8/,
    );
  });
});
