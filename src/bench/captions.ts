/**
 * Real captions for the text benchmarks: the emoji test split's captions (built in a temporary folder from
 * the installed emoji packages), tokenized as a user's model would tokenize them — OpenAI's merges for a
 * 49,408-token vocabulary (b32) when ../shared holds them, else a BPE learned from the split's training
 * captions at the preset's vocabulary size (what `juxta train` does) — zero-padded to the full context, as
 * open_clip pads.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildEmojiDataset } from "../data/emoji.js";
import type { ClipConfig } from "../models/clip.js";
import { loadClipBpe } from "../text/formats.js";
import { trainBpe } from "../text/train.js";
import { sharedDir } from "../util/paths.js";
import { median } from "./timing.js";

export interface BenchCaptions {
  /** Token ids [rows, contextLength]. */
  ids: Int32Array;
  rows: number;
  /** Median tokens per caption, start and end tokens included. */
  medianTokens: number;
  longestTokens: number;
  tokenizer: string;
}

const OPENAI_MERGES = join(sharedDir, "data", "clip-bpe", "bpe_simple_vocab_16e6.txt.gz");

/** The captions, or why they cannot be had here (the emoji packages are optional). */
export async function benchCaptions(cfg: ClipConfig): Promise<BenchCaptions | string> {
  const dir = mkdtempSync(join(tmpdir(), "juxta-bench-captions-"));
  try {
    const stats = await buildEmojiDataset(dir).catch((e: Error) => e);
    if (stats instanceof Error) return `no emoji captions: ${stats.message.split("\n")[0]}`;
    const texts = (file: string) =>
      readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .flatMap((line) => (JSON.parse(line) as { text: string | string[] }).text);
    const { vocabSize, contextLength } = cfg.text;
    const openai = vocabSize === 49408 && existsSync(OPENAI_MERGES);
    const tokenizer = openai ? loadClipBpe(OPENAI_MERGES) : trainBpe(texts(stats.trainFile), { vocabSize });
    const test = texts(stats.testFile);
    const ids = tokenizer.encodeBatch(test, contextLength);
    // Tokens used per row: up to the end-of-text token, the largest id in the row.
    const used = test.map((_, r) => {
      let end = 0;
      for (let j = 1; j < contextLength; j++)
        if ((ids[r * contextLength + j] as number) > (ids[r * contextLength + end] as number)) end = j;
      return end + 1;
    });
    return {
      ids,
      rows: test.length,
      medianTokens: median(used),
      longestTokens: Math.max(...used),
      tokenizer: openai ? "OpenAI CLIP's merges" : `BPE learned from the train split (${vocabSize} tokens)`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
