import { benchB32 } from "../../bench/b32.js";
import { benchEmbed } from "../../bench/embed.js";
import { benchEngine } from "../../bench/engine.js";
import { benchTrain } from "../../bench/train.js";
import { UserError } from "../../util/errors.js";
import { defineCommand, numberFlag } from "../command.js";

const SUITES: Record<
  string,
  (v: Record<string, string | boolean | undefined>) => Promise<Record<string, unknown>>
> = {
  engine: () => benchEngine(),
  train: (v) =>
    benchTrain({
      preset: v.preset as string | undefined,
      batch: numberFlag(v.batch as string | undefined, "batch", 128, { integer: true, min: 2 }),
      steps: numberFlag(v.steps as string | undefined, "steps", 6, { integer: true, min: 2 }),
      peer: !v["no-peer"],
    }),
  b32: async () => ({ suite: "b32", ...(await benchB32()) }),
  embed: (v) =>
    benchEmbed({
      preset: v.preset as string | undefined,
      batch: numberFlag(v.batch as string | undefined, "batch", 128, { integer: true, min: 1 }),
      peer: !v["no-peer"],
    }),
};

export const bench = defineCommand({
  name: "bench",
  summary: "measure throughput (engine, train, embed, search, data) against the PyTorch peer's recorded run",
  usage:
    "juxta bench --suite engine|train|embed|b32|all [--preset tiny] [--batch 128] [--steps 6] [--no-peer] [--json]",
  options: {
    suite: { type: "string", default: "all" },
    json: { type: "boolean" },
    preset: { type: "string" },
    batch: { type: "string" },
    steps: { type: "string" },
    "no-peer": { type: "boolean" },
  },
  async run(values) {
    const names = values.suite === "all" ? Object.keys(SUITES) : [values.suite ?? "all"];
    for (const name of names) {
      const suite = SUITES[name];
      if (!suite)
        throw new UserError(`unknown suite '${name}'; choose one of: ${Object.keys(SUITES).join(", ")}, all`);
      const result = await suite(values);
      if (values.json) console.log(JSON.stringify(result));
      else {
        console.log(`# ${name}`);
        for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(28)} ${v}`);
      }
    }
  },
});
