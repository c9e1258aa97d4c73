/** `juxta search`: the images of an index closest to a text or an image. */
import { searchImageIndex } from "../../apps/image-index.js";
import { readQueryText } from "../../io/text-input.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";
import { DTYPE_OPTION } from "../options.js";

export const search = defineCommand({
  name: "search",
  summary: "search an image index (juxta index) by text or by image",
  usage: 'juxta search --index INDEX ("a red fruit" | --query-file FILE|- | --image IMG) [--top K] [--json]',
  options: {
    index: {
      type: "string",
      arg: "INDEX",
      required: true,
      help: "a folder written by juxta index (it names the model that embeds the query)",
    },
    image: {
      type: "string",
      arg: "IMG",
      help: [
        "find images like this one instead of matching a text (the only query an",
        "image-only encoder's index takes: simclr, moco, supcon, triplet runs)",
      ],
    },
    "query-file": {
      type: "string",
      arg: "FILE",
      help: "read the query text from FILE (- for stdin): long texts must not go on the command line",
    },
    top: { type: "integer", short: "k", arg: "K", aliases: ["k"], min: 1, default: 10, help: "results" },
    model: { type: "string", arg: "RUN", help: "use another copy of the index's model" },
    tokenizer: { type: "string", arg: "FILE", help: "use another copy of the index's tokenizer" },
    ...DTYPE_OPTION,
    json: { type: "boolean", help: "print one JSON line: [{id, score, meta?}], best first" },
  },
  async run(v, positionals) {
    if (v["query-file"] !== undefined && positionals.length > 0)
      throw new UserError("give the query as text or with --query-file, not both");
    const text =
      v["query-file"] !== undefined ? readQueryText(v["query-file"]) : positionals.join(" ").trim();
    if (v.image !== undefined && text !== "") throw new UserError("give a text or --image IMG, not both");
    if (v.image === undefined && text === "")
      throw new UserError(`nothing to search for\nusage: ${search.usage}`);
    const hits = await searchImageIndex(
      v.index,
      v.image !== undefined ? { image: v.image } : { text },
      v.top,
      {
        model: v.model,
        tokenizer: v.tokenizer,
        dtype: v.dtype,
      },
    );
    if (v.json) {
      console.log(JSON.stringify(hits));
      return;
    }
    if (hits.length === 0) console.log("(the index is empty)");
    for (const [i, h] of hits.entries()) {
      const text = (h.meta as { text?: unknown } | undefined)?.text;
      console.log(
        `${String(i + 1).padStart(3)}  ${h.score.toFixed(4)}  ${h.id}${typeof text === "string" ? `  (${text})` : ""}`,
      );
    }
  },
});
