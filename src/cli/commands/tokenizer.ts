/** `juxta tokenizer train|encode`: learn a byte-level BPE (CLIP style) from captions, or show a text's ids. */
import { readCaptions } from "../../text/captions.js";
import { loadTokenizer, saveTokenizerJson } from "../../text/formats.js";
import { trainBpe } from "../../text/train.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";

export const tokenizer = defineCommand({
  name: "tokenizer",
  summary: "train a byte-level BPE tokenizer (CLIP style) on captions, or encode text with a tokenizer",
  usage:
    "juxta tokenizer train --data FILE --vocab-size N --out tokenizer.json [--field text] [--min-frequency 2]\n" +
    "       juxta tokenizer encode --tokenizer PATH [--context N] TEXT...",
  intro: [
    "FILE is a text file with one caption a line, or JSON lines (.jsonl) whose --field holds the caption.",
    "N counts every token: 512 byte symbols, the merges learned, and the start and end tokens.",
    "PATH is a tokenizer.json, a vocab.json with merges.txt beside it, CLIP's bpe_simple_vocab_16e6.txt.gz,",
    "or a folder holding one of them.",
  ],
  options: {
    data: { type: "string", arg: "FILE", group: "train:", help: "the captions" },
    "vocab-size": { type: "integer", arg: "N", min: 514, help: "tokens in the vocabulary" },
    out: { type: "string", arg: "FILE", help: "the tokenizer.json to write" },
    field: { type: "string", arg: "NAME", default: "text", help: "the caption field of a .jsonl file" },
    "min-frequency": {
      type: "integer",
      arg: "N",
      min: 1,
      default: 2,
      help: "the fewest times a pair must occur to be merged",
    },
    tokenizer: { type: "string", arg: "PATH", group: "encode:", help: "the tokenizer to encode with" },
    context: {
      type: "integer",
      arg: "N",
      min: 1,
      help: "pad or cut each text to N ids (with start and end tokens)",
    },
  },
  notes: [
    "examples:",
    "  juxta tokenizer train --data captions.txt --vocab-size 8192 --out tokenizer.json",
    "  juxta tokenizer train --data train.jsonl --field caption --vocab-size 49408 --out tokenizer.json",
    "  juxta tokenizer encode --tokenizer tokenizer.json --context 16 'a photo of a cat'",
  ],
  async run(values, positionals) {
    const [action, ...rest] = positionals;
    if (action === "train") {
      if (!values.data || !values.out || values["vocab-size"] === undefined)
        throw new UserError(
          "juxta tokenizer train needs --data FILE, --vocab-size N and --out tokenizer.json",
        );
      const vocabSize = values["vocab-size"];
      const minFrequency = values["min-frequency"];
      const start = performance.now();
      const elapsed = () => `${((performance.now() - start) / 1000).toFixed(1)} s`;
      const tok = trainBpe(readCaptions(values.data, values.field), {
        vocabSize,
        minFrequency,
        onProgress: (done, total) =>
          process.stderr.write(`tokenizer: ${done}/${total} tokens learned (${elapsed()})\n`),
      });
      saveTokenizerJson(tok, values.out);
      const short = tok.vocabSize < vocabSize ? ` (no pair left seen ${minFrequency}+ times)` : "";
      console.log(
        `wrote ${values.out}: ${tok.vocabSize} tokens, ${tok.merges.length} merges${short}, in ${elapsed()}`,
      );
      return;
    }
    if (action === "encode") {
      if (!values.tokenizer || rest.length === 0)
        throw new UserError("juxta tokenizer encode needs --tokenizer PATH and at least one TEXT");
      const tok = loadTokenizer(values.tokenizer);
      if (values.context === undefined)
        for (const text of rest) console.log(JSON.stringify(tok.encode(text)));
      else {
        const context = values.context;
        const rows = tok.encodeBatch(rest, context);
        for (let r = 0; r < rest.length; r++)
          console.log(JSON.stringify(Array.from(rows.subarray(r * context, (r + 1) * context))));
      }
      return;
    }
    throw new UserError(
      `juxta tokenizer: expected 'train' or 'encode', got ${action ? `'${action}'` : "nothing"}`,
    );
  },
});
