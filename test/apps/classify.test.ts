import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it, mock } from "node:test";
import { classifyImages, parseLabels } from "../../src/apps/classify.js";
import { classify } from "../../src/cli/commands/classify.js";
import { Session } from "../../src/engine/index.js";
import { openModel } from "../../src/handle/open.js";
import { loadClipModel } from "../../src/pretrained/open.js";
import { saveTokenizerJson } from "../../src/text/index.js";
import { trainBpe } from "../../src/text/train.js";
import { colourImages, runCommand, tempDir, tinyModel } from "./fixtures.js";

describe("juxta classify", () => {
  let model: string;
  let img: string;
  before(async () => {
    model = tinyModel();
    img = await colourImages(tempDir());
  });

  it("ranks every label with softmax(logit_scale · cosine) probabilities", async () => {
    const labels = ["red", "green", "blue"];
    const out = await runCommand(classify, [
      "--model",
      model,
      "--labels",
      "red, green,blue,,red",
      "--json",
      join(img, "red.png"),
      join(img, "blue.png"),
    ]);
    const results = JSON.parse(out[0] as string) as {
      image: string;
      ranked: { label: string; prob: number; score: number }[];
    }[];
    assert.deepEqual(
      results.map((r) => r.image),
      [join(img, "red.png"), join(img, "blue.png")],
    );
    const scale = (await openModel(model)).logitScale as number;
    for (const r of results) {
      assert.deepEqual(r.ranked.map((s) => s.label).sort(), [...labels].sort());
      const sum = r.ranked.reduce((a, s) => a + s.prob, 0);
      assert.ok(Math.abs(sum - 1) < 1e-9, `probabilities sum to ${sum}`);
      for (let i = 1; i < r.ranked.length; i++) {
        const [a, b] = [r.ranked[i - 1]!, r.ranked[i]!];
        assert.ok(a.prob >= b.prob, "sorted by probability");
        const ratio = Math.log(a.prob / b.prob);
        assert.ok(Math.abs(ratio - scale * (a.score - b.score)) < 1e-6, "log-odds = scale × cosine gap");
      }
    }
    const text = await runCommand(classify, ["--model", model, "--labels", "red,blue", "--top", "1", img]);
    assert.equal(text.length, 4 * 2);
    assert.match(text[1] as string, /^ {2}(red|blue) +\d+\.\d%$/);
  });

  it("the API takes images and labels directly", async () => {
    const r = await classifyImages(
      loadClipModel(model),
      [{ id: "x", ref: { kind: "file", path: join(img, "red.png") } }],
      ["a", "b"],
    );
    assert.equal(r[0]?.image, "x");
    assert.equal(r[0]?.ranked.length, 2);
    assert.deepEqual(parseLabels(" cat ,dog,cat"), ["cat", "dog"]);
  });

  it("classifyImages with a handle compiles its sessions once over many calls", async () => {
    const handle = await openModel(model);
    const spy = mock.method(Session, "create");
    try {
      for (let i = 0; i < 5; i++) {
        const [r] = await classifyImages(
          handle,
          [{ id: "x", ref: { kind: "file", path: join(img, "red.png") } }],
          ["red", "blue"],
        );
        assert.equal(r?.ranked.length, 2);
      }
      assert.equal(spy.mock.callCount(), 2, "one image and one text session");
    } finally {
      spy.mock.restore();
      await handle.dispose();
    }
  });

  it("bad input is a UserError: labels, images, model folder, tokenizer", async () => {
    const run = (argv: string[]) => runCommand(classify, argv);
    const red = join(img, "red.png");
    await assert.rejects(run(["--model", model, "--labels", " , ", red]), /comma-separated list/);
    await assert.rejects(run(["--model", model, red]), /--labels/);
    await assert.rejects(run(["--model", model, "--labels", "a,b"]), /no images given/);
    const bad = join(tempDir(), "bad.png");
    writeFileSync(bad, "garbage");
    await assert.rejects(run(["--model", model, "--labels", "a,b", bad]), /unreadable image: .*bad\.png/);
    await assert.rejects(run(["--model", join(img, "nope"), "--labels", "a", red]), /does not exist/);
    const corrupt = tempDir();
    writeFileSync(join(corrupt, "juxta.json"), "{not json");
    await assert.rejects(run(["--model", corrupt, "--labels", "a", red]), /juxta\.json: not valid JSON/);
    const empty = tempDir();
    await assert.rejects(run(["--model", empty, "--labels", "a", red]), /not a model folder Juxta knows/);
    // A tokenizer with more tokens than the model embeds belongs to another model.
    const words = Array.from({ length: 300 }, (_, i) => `w${i.toString(36)}x${(i * 7).toString(36)}`);
    const big = trainBpe([words.join(" ")], { vocabSize: 700, minFrequency: 1 });
    const tokFile = join(tempDir(), "tokenizer.json");
    saveTokenizerJson(big, tokFile);
    assert.ok(big.vocabSize > loadClipModel(model).model.cfg.text.vocabSize);
    await assert.rejects(
      run(["--model", model, "--tokenizer", tokFile, "--labels", "a", red]),
      /do not belong together/,
    );
  });
});
