import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CLIP } from "../../src/models/clip.js";
import { loadClip } from "../../src/models/saved.js";
import { loadInit, lockedParams } from "../../src/pretrained/init.js";
import { SMALL, smallRun } from "./fixtures.js";

describe("fine-tune init (src/pretrained/init.ts)", () => {
  it("loadInit opens a model folder with its weights", () => {
    const dir = smallRun(5);
    const a = loadInit(dir);
    const b = loadClip(dir);
    assert.deepEqual(
      a.model.visual.parameters("visual")[0]?.data,
      b.model.visual.parameters("visual")[0]?.data,
    );
    assert.equal(a.tokenizer.vocabSize, b.tokenizer.vocabSize);
  });

  it("lockedParams: LiT locks the image tower, logit_scale stays trainable, names are kept", () => {
    const model = new CLIP(structuredClone(SMALL));
    const names = model.parameters().map((p) => p.name);
    const trained = (opts: { lockImage?: boolean; lockText?: boolean }) => {
      const keep = lockedParams(model, opts);
      return model
        .parameters()
        .filter(keep)
        .map((p) => p.name);
    };
    assert.deepEqual(trained({}), names);
    const lit = trained({ lockImage: true });
    assert.deepEqual(
      lit,
      names.filter((n) => !n.startsWith("visual.")),
    );
    assert.ok(lit.includes("logit_scale") && lit.includes("text.text_projection"));
    assert.deepEqual(
      trained({ lockText: true }),
      names.filter((n) => !n.startsWith("text.")),
    );
    assert.deepEqual(trained({ lockImage: true, lockText: true }), ["logit_scale"]);
    assert.deepEqual(
      model.parameters().map((p) => p.name),
      names,
    );
  });
});
