import { benchB32 } from "../../bench/b32.js";
import { benchEmbed } from "../../bench/embed.js";
import { benchEngine } from "../../bench/engine.js";
import { benchMethods } from "../../bench/methods.js";
import { benchTrain } from "../../bench/train.js";
import { measureLoaderThroughput } from "../../data/loader.js";
import { IMAGE_ENCODER_PRESETS } from "../../models/image-encoder.js";
import { benchSearch } from "../../search/bench.js";
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
  data: async (v) => {
    // Augmented pairs per second at the train suite's shapes (tiny: 64 px), two loader workers.
    const batch = numberFlag(v.batch as string | undefined, "batch", 128, { integer: true, min: 2 });
    const r = await measureLoaderThroughput({ size: 64, batchSize: batch, augment: "clip", workers: 2 });
    return {
      suite: "data",
      batch,
      augment: "clip",
      workers: r.workers,
      data_pairs_per_s: Math.round(r.pairsPerSec),
    };
  },
  search: async () => ({ suite: "search", ...(await benchSearch()) }),
  b32: async () => ({ suite: "b32", ...(await benchB32()) }),
  embed: (v) =>
    benchEmbed({
      preset: v.preset as string | undefined,
      batch: numberFlag(v.batch as string | undefined, "batch", 128, { integer: true, min: 1 }),
      peer: !v["no-peer"],
    }),
  // --preset names an image encoder here; a CLIP preset given for the other suites (--suite all) is theirs.
  methods: (v) =>
    benchMethods({
      preset: (v.preset as string | undefined) ?? "resnet-tiny",
      batch: numberFlag(v.batch as string | undefined, "batch", 64, { integer: true, min: 2 }),
      repeats: numberFlag(v.steps as string | undefined, "steps", 6, { integer: true, min: 1 }),
    }),
};

export const bench = defineCommand({
  name: "bench",
  summary:
    "measure throughput (engine, train, embed) against the PyTorch peer, and the image methods' step overhead",
  usage:
    "juxta bench --suite engine|train|embed|b32|methods|all [--preset tiny] [--batch 128] [--steps 6] [--no-peer] [--json]",
  help: [
    "suites:",
    "  methods              SimCLR and MoCo v2 step time vs the same encoder's forward+backward on the same 2N",
    `                       images, and the ratio; --preset ${Object.keys(IMAGE_ENCODER_PRESETS).join("|")} (default`,
    "                       resnet-tiny), --batch N samples (default 64), --steps timed repetitions (default 6)",
  ].join("\n"),
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
    const imagePreset = values.preset !== undefined && values.preset in IMAGE_ENCODER_PRESETS;
    for (const name of names) {
      const suite = SUITES[name];
      if (!suite)
        throw new UserError(`unknown suite '${name}'; choose one of: ${Object.keys(SUITES).join(", ")}, all`);
      // Under --suite all one --preset cannot name both a CLIP model and an image encoder: each suite takes
      // its own kind and the others their defaults.
      const own =
        names.length === 1 || (name === "methods") === imagePreset
          ? values
          : { ...values, preset: undefined };
      const result = await suite(own);
      if (values.json) console.log(JSON.stringify(result));
      else {
        console.log(`# ${name}`);
        for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(28)} ${v}`);
      }
    }
  },
});
