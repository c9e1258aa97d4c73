import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readSafetensors } from "../../src/io/safetensors.js";
import { CLIP, type ClipConfig } from "../../src/models/clip.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { METHODS } from "../../src/train/methods/index.js";
import { createPairStep } from "../../src/train/pairs.js";
import { projectRoot } from "../helpers.js";

const FIXTURE = join(projectRoot, "test", "fixtures", "clip-xcheck");

function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += ((a[i] as number) - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

function loadFixture() {
  const cfg = JSON.parse(readFileSync(join(FIXTURE, "config.json"), "utf8")) as ClipConfig;
  const { tensors } = readSafetensors(join(FIXTURE, "fixture.safetensors"));
  const get = (name: string) => {
    const t = tensors.get(name);
    assert.ok(t, `fixture tensor '${name}'`);
    return t.data;
  };
  const model = new CLIP(cfg).initialize(0);
  for (const p of model.parameters()) p.data.set(get(`param.${p.name}`) as Float32Array);
  return { cfg, model, get };
}

describe("CLIP against PyTorch (fixture made by test/fixtures/clip-xcheck/make_fixture.py)", () => {
  it("loss and every parameter's gradient match to 1e-4 relative", async () => {
    const { model, get } = loadFixture();
    const step = await createPairStep(METHODS.clip, model, { batch: 4 });
    const r = await step.run(
      { images: get("images") as Float32Array, tokens: get("tokens") as Int32Array },
      0,
    );
    const refLoss = (get("loss") as Float32Array)[0] as number;
    assert.ok(Math.abs(r.loss - refLoss) <= 1e-4 * Math.abs(refLoss), `loss ${r.loss} vs PyTorch ${refLoss}`);
    assert.equal(step.params.length, model.parameters().length);
    step.params.forEach((p, i) => {
      const err = relativeError(r.grads[i] as Float32Array, get(`grad.${p.name}`) as Float32Array);
      assert.ok(err <= 1e-4, `gradient of ${p.name}: relative error ${err.toExponential(2)}`);
    });
    await step.release();
  });
});

describe("ClipEncoders", () => {
  it("embeds with a symbolic batch: a batch of 4 equals rows encoded one at a time", async () => {
    const { cfg, model, get } = loadFixture();
    const encoders = await ClipEncoders.create(model, { chunk: 4 });
    const images = get("images") as Float32Array;
    const tokens = get("tokens") as Int32Array;
    const all = await encoders.encodeImages(images);
    const allText = await encoders.encodeTexts(tokens);
    assert.equal(all.length, 4 * cfg.embedDim);
    const rowPixels = images.length / 4;
    const ctx = cfg.text.contextLength;
    for (let r = 0; r < 4; r++) {
      const one = await encoders.encodeImages(images.subarray(r * rowPixels, (r + 1) * rowPixels));
      const oneText = await encoders.encodeTexts(tokens.subarray(r * ctx, (r + 1) * ctx));
      const d = cfg.embedDim;
      assert.ok(relativeError(one, all.subarray(r * d, (r + 1) * d)) < 1e-5, `image row ${r}`);
      assert.ok(relativeError(oneText, allText.subarray(r * d, (r + 1) * d)) < 1e-5, `text row ${r}`);
    }
    await encoders.release();
  });

  it("texts skip their padding: trimmed chunks equal full-length encoding, rows in their order", async () => {
    const { cfg } = loadFixture();
    const ctx = 32;
    const model = new CLIP({ ...cfg, text: { ...cfg.text, contextLength: ctx } }).initialize(3);
    const eot = cfg.text.vocabSize - 1;
    // 11 captions of 2..31 tokens (end-of-text = the largest id, zero padding), one of them full length.
    const lengths = [5, 2, 31, 7, 3, 16, 9, 4, 12, 6, 32];
    const ids = new Int32Array(lengths.length * ctx);
    lengths.forEach((len, r) => {
      for (let j = 0; j < len - 1; j++) ids[r * ctx + j] = 1 + ((r * 7 + j * 13) % (eot - 2));
      ids[r * ctx + len - 1] = eot;
    });
    const full = await ClipEncoders.create(model, { towers: ["text"], chunk: 4, trimTexts: false });
    const trimmed = await ClipEncoders.create(model, { towers: ["text"], chunk: 4 });
    const want = await full.encodeTexts(ids);
    const got = await trimmed.encodeTexts(ids);
    // Bitwise: positions after the end token never reach the pooled row (causal mask), and a row's float32
    // arithmetic does not depend on how many positions or rows run beside it.
    const d = cfg.embedDim;
    for (let r = 0; r < lengths.length; r++)
      assert.deepEqual(
        got.subarray(r * d, (r + 1) * d),
        want.subarray(r * d, (r + 1) * d),
        `row ${r} (${lengths[r]} tokens)`,
      );
    // Shortest first in chunks of 4: lengths ≤ 5, ≤ 12, ≤ 32 → graphs for 8, 16 and 32 tokens.
    assert.deepEqual(trimmed.textLengthsCompiled, [8, 16, 32]);
    assert.deepEqual(full.textLengthsCompiled, [32]);
    await full.release();
    await trimmed.release();
  });
});

describe("training on fewer token positions", () => {
  it("textLength covering every caption gives the full context's loss and gradients", async () => {
    const { cfg, get } = loadFixture();
    const ctx = 32;
    const model = new CLIP({ ...cfg, text: { ...cfg.text, contextLength: ctx } }).initialize(2);
    const eot = cfg.text.vocabSize - 1;
    const lengths = [3, 8, 5, 6]; // start … end, zero padding after
    const padded = new Int32Array(4 * ctx);
    const trimmed = new Int32Array(4 * 8);
    lengths.forEach((len, r) => {
      for (let j = 0; j < len; j++) {
        const id = j === len - 1 ? eot : 1 + ((r * 11 + j * 5) % (eot - 2));
        padded[r * ctx + j] = id;
        trimmed[r * 8 + j] = id;
      }
    });
    const images = get("images") as Float32Array;
    const full = await createPairStep(METHODS.clip, model, { batch: 4 });
    const short = await createPairStep(METHODS.clip, model, { batch: 4, textLength: 8 });
    const a = await full.run({ images, tokens: padded }, 0);
    const b = await short.run({ images, tokens: trimmed }, 0);
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * Math.abs(a.loss), `loss ${b.loss} vs ${a.loss}`);
    full.params.forEach((p, i) => {
      const err = relativeError(b.grads[i] as Float32Array, a.grads[i] as Float32Array);
      // Positions 8..31 of the positional embedding get no gradient in either graph.
      assert.ok(err <= 1e-5, `gradient of ${p.name}: relative error ${err.toExponential(2)}`);
    });
    await full.release();
    await short.release();
  });
});
