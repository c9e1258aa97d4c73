import { benchB32 } from "../../bench/b32.js";
import { benchEmbed, type EmbedBenchOptions } from "../../bench/embed.js";
import { benchEngine } from "../../bench/engine.js";
import { benchLance } from "../../bench/lance.js";
import { benchMethods, type MethodsBenchOptions } from "../../bench/methods.js";
import { benchQ8KernelsSuite } from "../../bench/q8-kernels.js";
import { benchScale, parseSize } from "../../bench/scale.js";
import { benchSearch } from "../../bench/search.js";
import { benchServe } from "../../bench/serve.js";
import { benchTrain, type TrainBenchOptions } from "../../bench/train.js";
import { measureLoaderThroughput } from "../../data/loader.js";
import { IMAGE_ENCODER_PRESETS } from "../../models/image-encoder.js";
import { UserError } from "../../util/errors.js";
import { defineCommand, type OptionSpecs, type ParsedValues } from "../command.js";

/** The flags a suite reads; --batch and --steps default per suite. */
type Flags = Omit<ParsedValues<typeof OPTIONS>, "suite">;

/** A suite's --batch or --steps: the given value, checked against this suite's floor, or its default. */
function count(v: Flags, flag: "batch" | "steps", fallback: number, min: number): number {
  const n = v[flag] ?? fallback;
  if (n < min) throw new UserError(`--${flag} expects an integer ≥ ${min} for this suite, got '${n}'`);
  return n;
}

/** Each suite: what it measures (for `bench` and `bench --help`) and how to run it. */
const SUITES: Record<string, { about: string[]; run: (v: Flags) => Promise<Record<string, unknown>> }> = {
  engine: {
    about: ["a 1024² matmul through the engine vs raw ONNX Runtime, and a training step's overhead"],
    run: () => benchEngine(),
  },
  train: {
    about: [
      "CLIP training pairs/s and peak memory vs the PyTorch peer in the same run (full CPU for",
      "minutes); --preset tiny|tiny-resnet|small|b32, --batch (128), --steps (6), --no-peer",
    ],
    run: (v) =>
      benchTrain({
        preset: v.preset as TrainBenchOptions["preset"],
        batch: count(v, "batch", 128, 2),
        steps: count(v, "steps", 6, 2),
        peer: !v["no-peer"],
      }),
  },
  embed: {
    about: [
      "fp32 and q8 images/s and texts/s (full context, and the emoji test captions) through the",
      "inference graphs vs the PyTorch peer (fp32, dynamic int8) in the same run; --preset, --batch",
      "(128), --steps (6), --no-peer",
    ],
    run: (v) =>
      benchEmbed({
        preset: v.preset as EmbedBenchOptions["preset"],
        batch: count(v, "batch", 128, 1),
        runs: count(v, "steps", 6, 2),
        peer: !v["no-peer"],
      }),
  },
  data: {
    about: ["augmented pairs/s from the data loader (two workers, 64 px); --batch"],
    run: async (v) => {
      // Augmented pairs per second at the train suite's shapes (tiny: 64 px), two loader workers.
      const batch = count(v, "batch", 128, 2);
      const r = await measureLoaderThroughput({ size: 64, batchSize: batch, augment: "clip", workers: 2 });
      return {
        suite: "data",
        batch,
        augment: "clip",
        workers: r.workers,
        data_pairs_per_s: Math.round(r.pairsPerSec),
      };
    },
  },
  scale: {
    about: [
      "peak RSS of juxta embed and of a training epoch (streamed; cached up to 100k images) over",
      "generated shards of --sizes images (default 10k; e.g. 10k,100k,1m), each a child process, then",
      "streamed vs cached training on the emoji set; --batch (128), --data-dir DIR keeps the data",
    ],
    run: (v) =>
      benchScale({
        sizes: (v.sizes ?? "10k").split(",").map(parseSize),
        dir: v["data-dir"],
        batch: count(v, "batch", 128, 2),
        log: (line) => console.error(`bench scale: ${line}`),
      }),
  },
  lance: {
    about: [
      "the LanceDB backend over --sizes vectors (default 1m, 256-d): add and IVF-PQ build time, disk,",
      "peak RSS, query p50/p99 at two probe settings, recall@10 and latency against the exact scan;",
      "--steps N: timed queries (default 200); --data-dir DIR: where the table is written (then removed)",
    ],
    run: (v) => {
      const sizes = (v.sizes ?? "1m").split(",").map(parseSize);
      if (sizes.length !== 1) throw new UserError("--sizes for the lance suite is one count, e.g. 1m");
      return benchLance({
        vectors: sizes[0],
        queries: count(v, "steps", 200, 1),
        dir: v["data-dir"],
        log: (line) => console.error(`bench lance: ${line}`),
      });
    },
  },
  search: {
    about: ["exact top-10 search latency over 100k 256-d vectors"],
    run: async () => ({ suite: "search", ...(await benchSearch()) }),
  },
  serve: {
    about: [
      "juxta serve under autocannon on loopback: a 100k-item index over the tiny model, text",
      "queries at 1, 8 and 32 clients (p50/p99, req/s), /health while images are embedded, then",
      "the approximate index over 1M vectors: recall@10 and query latency beside the exact scan",
      "(minutes: the HNSW build); --steps N: seconds per load run (default 10)",
    ],
    run: (v) =>
      benchServe({
        seconds: count(v, "steps", 10, 1),
        log: (line) => console.error(`bench serve: ${line}`),
      }),
  },
  b32: {
    about: [
      "the embed suite at ViT-B/32's shapes (random weights): fp32 and q8 images/s and texts/s vs",
      "the peer's towers at those shapes (fp32 and PyTorch's dynamic int8); --batch (32), --steps (4),",
      "--no-peer",
    ],
    run: async (v) => ({
      suite: "b32",
      ...(await benchB32({
        batch: count(v, "batch", 32, 1),
        runs: count(v, "steps", 4, 2),
        peer: !v["no-peer"],
      })),
    }),
  },
  int8: {
    about: [
      "each int8 lowering of a dense layer, attention block and convolution (DynamicQuantizeMatMul,",
      "MatMulInteger, QLinearMatMul, MatMulNBits, QAttention, ConvInteger) vs float32, interleaved;",
      "--preset b32 for its shapes (else tiny's), --steps timed rounds (default 9)",
    ],
    run: (v) =>
      benchQ8KernelsSuite({
        preset: v.preset as string | undefined,
        runs: count(v, "steps", 9, 1),
      }),
  },
  methods: {
    about: [
      "SimCLR and MoCo v2 step time vs the same encoder's forward+backward on the same 2N images;",
      `--preset ${Object.keys(IMAGE_ENCODER_PRESETS).join("|")} (default resnet-tiny), --batch N samples`,
      "(default 64), --steps timed repetitions (default 6)",
    ],
    // --preset names an image encoder here; a CLIP preset given for the other suites (--suite all) is theirs.
    run: (v) =>
      benchMethods({
        preset: (v.preset as MethodsBenchOptions["preset"]) ?? "resnet-tiny",
        batch: count(v, "batch", 64, 2),
        repeats: count(v, "steps", 6, 1),
      }),
  },
};

/** The suites, one per entry, as `bench` (no --suite) and `bench --help` list them. */
function suiteList(): string {
  const lines = Object.entries(SUITES).flatMap(([name, { about }]) =>
    about.map((line, i) => `  ${(i === 0 ? name : "").padEnd(9)}${line}`),
  );
  return ["suites (--suite NAME, or all for every one in turn):", ...lines].join("\n");
}

const OPTIONS = {
  suite: {
    type: "choice",
    choices: [...Object.keys(SUITES), "all"],
    arg: "NAME",
    help: "the suite to run (above)",
  },
  preset: { type: "string", arg: "NAME", help: "the model the suite measures (train, embed, methods)" },
  batch: { type: "integer", arg: "N", min: 1, defaultHelp: "per suite, above", help: "batch size" },
  steps: { type: "integer", arg: "N", min: 1, defaultHelp: "per suite, above", help: "timed steps" },
  "no-peer": { type: "boolean", help: "skip the PyTorch peer (train, embed)" },
  sizes: {
    type: "string",
    arg: "LIST",
    help: "scale: data set sizes, e.g. 10k,100k,1m (default 10k); lance: vectors (default 1m)",
  },
  "data-dir": {
    type: "string",
    arg: "DIR",
    help: "scale: where the generated shards, model and emoji set are kept (default /tmp/juxta-scale-bench); lance: where its table is written",
  },
  json: { type: "boolean", help: "one JSON line per suite" },
} as const satisfies OptionSpecs;

export const bench = defineCommand({
  name: "bench",
  summary: "measure throughput (engine, train, embed, data, search) against the PyTorch peer in the same run",
  usage: `juxta bench --suite ${Object.keys(SUITES).join("|")}|all [--preset NAME] [--batch N] [--steps N] [--no-peer] [--sizes LIST] [--data-dir DIR] [--json]`,
  intro: suiteList(),
  options: OPTIONS,
  notes: ["example:", "  juxta bench --suite train --preset tiny --batch 128 --json"],
  async run(values) {
    // Every suite in turn keeps the CPU busy for minutes (the peer included): only on request.
    if (values.suite === undefined) {
      console.log(`${suiteList()}\n\nusage: ${bench.usage}`);
      return;
    }
    const names = values.suite === "all" ? Object.keys(SUITES) : [values.suite];
    const imagePreset = values.preset !== undefined && values.preset in IMAGE_ENCODER_PRESETS;
    for (const name of names) {
      const suite = SUITES[name] as (typeof SUITES)[string];
      // Under --suite all one --preset cannot name both a CLIP model and an image encoder: each suite takes
      // its own kind and the others their defaults.
      const own =
        names.length === 1 || (name === "methods") === imagePreset
          ? values
          : { ...values, preset: undefined };
      const result = await suite.run(own);
      if (values.json) console.log(JSON.stringify(result));
      else {
        console.log(`# ${name}`);
        for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(32)} ${v}`);
      }
    }
  },
});
