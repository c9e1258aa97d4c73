import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { benchCaptions } from "../../src/bench/captions.js";
import { presetConfig } from "../../src/models/presets.js";

describe("the embed bench's real captions", () => {
  it("are the emoji test split tokenized at the tiny preset's vocabulary, zero-padded after the end token", async () => {
    const cfg = presetConfig("tiny");
    const got = await benchCaptions(cfg);
    if (typeof got === "string") throw new Error(got);
    const ctx = cfg.text.contextLength;
    assert.ok(got.rows > 300, `only ${got.rows} captions`);
    assert.equal(got.ids.length, got.rows * ctx);
    const used: number[] = [];
    for (let r = 0; r < got.rows; r++) {
      const row = Array.from(got.ids.subarray(r * ctx, (r + 1) * ctx));
      const end = row.indexOf(Math.max(...row));
      assert.ok(
        row.every((id) => id >= 0 && id < cfg.text.vocabSize),
        `row ${r}: id out of the vocabulary`,
      );
      assert.ok(
        row.slice(end + 1).every((id) => id === 0),
        `row ${r}: not zero after its end token`,
      );
      used.push(end + 1);
    }
    used.sort((a, b) => a - b);
    assert.equal(got.longestTokens, used[used.length - 1]);
    // Real captions are far shorter than the context: what trimming the text tower's rows is for.
    assert.ok(got.medianTokens >= 4 && got.medianTokens < ctx / 2, `median ${got.medianTokens} tokens`);
  });
});
