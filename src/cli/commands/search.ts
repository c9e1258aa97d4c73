/** `juxta search`: the images of an index closest to a text or an image. */
import { searchImageIndex } from "../../apps/image-index.js";
import { UserError } from "../../util/errors.js";
import { defineCommand, numberFlag } from "../command.js";

export const search = defineCommand({
  name: "search",
  summary: "search an image index (juxta index) by text or by image",
  usage: 'juxta search --index INDEX ("a red fruit" | --image IMG) [-k 10] [--json]',
  help: [
    "options:",
    "  --index INDEX        a folder written by juxta index (it names the model that embeds the query)",
    "  --image IMG          find images like this one instead of matching a text (the only query an",
    "                       image-only encoder's index takes: simclr, moco, supcon, triplet runs)",
    "  -k, --k K            results (default 10)",
    "  --model RUN, --tokenizer FILE   use another copy of the index's model or tokenizer",
    "  --json               print one JSON line: [{id, score, meta?}], best first",
  ].join("\n"),
  options: {
    index: { type: "string" },
    image: { type: "string" },
    k: { type: "string", short: "k" },
    model: { type: "string" },
    tokenizer: { type: "string" },
    json: { type: "boolean" },
  },
  async run(v, positionals) {
    if (v.index === undefined) throw new UserError("--index INDEX is required");
    const text = positionals.join(" ").trim();
    if (v.image !== undefined && text !== "") throw new UserError("give a text or --image IMG, not both");
    if (v.image === undefined && text === "")
      throw new UserError(`nothing to search for\nusage: ${search.usage}`);
    const k = numberFlag(v.k, "k", 10, { integer: true, min: 1 });
    const hits = await searchImageIndex(v.index, v.image !== undefined ? { image: v.image } : { text }, k, {
      model: v.model,
      tokenizer: v.tokenizer,
    });
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
