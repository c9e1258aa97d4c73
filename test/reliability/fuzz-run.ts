/**
 * The fuzz run behind fuzz.test.ts, in its own process: random mutations of a valid file for each parser,
 * each parsed once; the only allowed outcomes are success and a UserError. Prints one JSON line per
 * finding and, before each input, its name (so a hang names the input it hangs on). Each input has a time
 * limit (INPUT_SECONDS) and a memory limit (INPUT_MEMORY, the process's resident size after it): past
 * either is a finding too. The whole run has a heap cap and a wall-clock limit (fuzz.test.ts).
 * Usage: node fuzz-run.js SEED COUNT [TARGET]
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { readCifar10 } from "../../src/data/cifar.js";
import { parseDelimited } from "../../src/data/delimited.js";
import { readManifest } from "../../src/data/manifest.js";
import { readMnist } from "../../src/data/mnist.js";
import { readTar, streamTar } from "../../src/data/tar.js";
import { SkipLog } from "../../src/data/types.js";
import { exportHf } from "../../src/export/hf.js";
import { exportOpenClip } from "../../src/export/openclip.js";
import { readNpy, writeNpy } from "../../src/io/npy.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { loadClip } from "../../src/models/saved.js";
import { loadModel } from "../../src/pretrained/open.js";
import { VectorIndex } from "../../src/search/index.js";
import { parseTokenizerJson, tokenizerJson } from "../../src/text/formats.js";
import { trainBpe } from "../../src/text/train.js";
import { UserError } from "../../src/util/errors.js";
import { tinyModel } from "../apps/fixtures.js";
import { tar } from "../data/fixtures.js";

/** Limits on one input: a parse that takes longer or leaves the process larger is a finding. */
const INPUT_SECONDS = 5;
const INPUT_MEMORY = 1 << 30;

/** xorshift32: the same seed gives the same inputs, so a finding can be replayed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const INTERESTING = ["-1", "-512", "abc", "0", "1e309", "99999999999", "\0", "\xff", '"', "\n", "NaN"];
/** Numbers a config field may be set to: absurd sizes, zero, negative, fractions, not a number. */
const NUMBERS = ["0", "-1", "1.5", "1e9", "1000000", "3", "99999999999", "1e309", '"8"', "null", "7"];

export function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  const bytes = Array.from(input);
  const n = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rand() * (bytes.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0:
        if (bytes.length) bytes[at % bytes.length] = Math.floor(rand() * 256);
        break;
      case 1:
        bytes.splice(at, Math.floor(rand() * 16));
        break;
      case 2:
        bytes.splice(
          at,
          0,
          ...Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)),
        );
        break;
      case 3:
        bytes.length = Math.min(bytes.length, at);
        break;
      case 4: {
        const s = INTERESTING[Math.floor(rand() * INTERESTING.length)]!;
        bytes.splice(at, s.length, ...Buffer.from(s, "latin1"));
        break;
      }
      default: {
        const from = Math.floor(rand() * bytes.length);
        bytes.splice(at, 0, ...bytes.slice(from, from + Math.floor(rand() * 64)));
      }
    }
  }
  return Uint8Array.from(bytes);
}

/** A JSON file with one of its numbers replaced (a config's sizes), and sometimes byte mutations too. */
export function mutateNumbers(input: Uint8Array, rand: () => number): Uint8Array {
  const text = Buffer.from(input).toString("utf8");
  const numbers = [...text.matchAll(/-?\d+(\.\d+)?(e-?\d+)?/g)];
  const m = numbers[Math.floor(rand() * numbers.length)];
  const out =
    m === undefined
      ? text
      : text.slice(0, m.index) +
        NUMBERS[Math.floor(rand() * NUMBERS.length)] +
        text.slice(m.index + m[0].length);
  const bytes = Buffer.from(out, "utf8");
  return rand() < 0.25 ? mutate(bytes, rand) : Uint8Array.from(bytes);
}

const dir = mkdtempSync(join(tmpdir(), "juxta-fuzz-"));
const file = (name: string, data: Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

function idx(magic: number, dims: number[], body: Uint8Array): Uint8Array {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  for (const [i, d] of dims.entries()) head.writeUInt32BE(d, 4 + 4 * i);
  return Buffer.concat([head, body]);
}

/** A copy of the model folder `from` into `to` with `file` replaced by `bytes`. */
function modelCopy(from: string, to: string, file: string, bytes: Uint8Array): string {
  mkdirSync(to, { recursive: true });
  for (const name of MODEL_FILES) {
    try {
      copyFileSync(join(from, name), join(to, name));
    } catch {
      // not every format has every file
    }
  }
  writeFileSync(join(to, file), bytes);
  return to;
}

const MODEL_FILES = [
  "juxta.json",
  "model.safetensors",
  "tokenizer.json",
  "config.json",
  "open_clip_config.json",
  "open_clip_model.safetensors",
  "preprocessor_config.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.json",
  "merges.txt",
];

interface Target {
  name: string;
  seed: Uint8Array;
  parse: (b: Uint8Array) => unknown;
  /** How inputs are made from the seed (default: byte mutations). */
  mutate?: (b: Uint8Array, rand: () => number) => Uint8Array;
}

/** Configs (juxta.json, Hugging Face, OpenCLIP) of a tiny model, and a vector index's three files. */
function modelAndIndexTargets(): Target[] {
  const juxta = tinyModel();
  const loaded = loadClip(juxta);
  const hf = join(dir, "hf");
  exportHf(loaded, hf);
  const openClip = join(dir, "openclip");
  exportOpenClip(loaded, openClip);
  const config = (name: string, from: string, file: string): Target => ({
    name,
    seed: new Uint8Array(readFileSync(join(from, file))),
    parse: (b) => loadModel(modelCopy(from, join(dir, `m-${name}`), file, b)),
    mutate: mutateNumbers,
  });
  const index = join(dir, "index");
  const vi = VectorIndex.create(3);
  vi.add(["a", "b"], Float32Array.from([1, 0, 0, 0, 1, 0]), [{ caption: "x" }, undefined]);
  vi.save(index);
  const indexFile = (file: string, mutator?: Target["mutate"]): Target => ({
    name: `index ${file}`,
    seed: new Uint8Array(readFileSync(join(index, file))),
    parse: (b) => {
      const to = join(dir, "index-fuzz");
      mkdirSync(to, { recursive: true });
      for (const f of ["header.json", "vectors.f32", "items.jsonl"])
        copyFileSync(join(index, f), join(to, f));
      writeFileSync(join(to, file), b);
      return VectorIndex.load(to);
    },
    mutate: mutator,
  });
  return [
    config("juxta.json", juxta, "juxta.json"),
    config("hf config.json", hf, "config.json"),
    config("open_clip_config.json", openClip, "open_clip_config.json"),
    indexFile("header.json", mutateNumbers),
    indexFile("vectors.f32"),
    indexFile("items.jsonl"),
  ];
}

/** Each parser: a valid seed file and how to parse bytes with it. */
export function targets(): Target[] {
  const st = join(dir, "seed.safetensors");
  writeSafetensors(
    st,
    { w: { dtype: "F32", shape: [2, 3], data: new Float32Array(6).fill(0.5) } },
    { step: "3" },
  );
  const npy = join(dir, "seed.npy");
  writeNpy(npy, new Float32Array(6).fill(1), [2, 3]);
  const tok = trainBpe(["a red square", "a blue thing", "two red things"], {
    vocabSize: 520,
    minFrequency: 1,
  });
  const labels = idx(2049, [2], Uint8Array.from([1, 2]));
  const csv = 'image,text,label\na.png,"a red, square",x\nb.png,"say ""hi""",y\n';
  const manifest = (ext: "jsonl" | "csv" | "tsv") => async (b: Uint8Array) =>
    readManifest(file(`m.${ext}`, b), ext, { checkImages: false }, new SkipLog());
  return [
    {
      name: "tar",
      seed: tar([
        ["0001.txt", "a cat"],
        [`${"d/".repeat(60)}0001.png`, "png"],
      ]),
      parse: (b) => readTar(b, "f.tar"),
    },
    {
      // The streamed driver in small windows, checked against the in-memory one: same members or both refuse.
      name: "tar (streamed)",
      seed: tar([
        ["0001.txt", "a cat"],
        [`${"d/".repeat(60)}0001.png`, "png".repeat(300)],
        ["0002.txt", "a dog"],
      ]),
      parse: async (b) => {
        let whole: { name: string; data: Uint8Array }[] | undefined;
        try {
          whole = readTar(b, "f.tar");
        } catch {
          // the streamed driver must refuse it too
        }
        const streamed: { name: string; data: Uint8Array }[] = [];
        try {
          for await (const m of streamTar(file("s.tar", b), { window: 1024 })) streamed.push(m);
        } catch (e) {
          if (whole === undefined) throw e;
          throw new Error(`the streamed driver refused what readTar read: ${(e as Error).message}`);
        }
        if (whole === undefined) throw new Error("the streamed driver read what readTar refused");
        const key = (ms: typeof streamed) =>
          JSON.stringify(ms.map((m) => [m.name, Buffer.from(m.data).toString("hex")]));
        if (key(whole) !== key(streamed))
          throw new Error("the streamed driver read other members than readTar");
      },
    },
    { name: "csv", seed: Buffer.from(csv), parse: manifest("csv") },
    { name: "tsv", seed: Buffer.from(csv.replaceAll(",", "\t")), parse: manifest("tsv") },
    {
      name: "delimited",
      seed: Buffer.from(csv),
      parse: (b) => [...parseDelimited(b, { delimiter: ",", quotes: true })],
    },
    {
      name: "jsonl",
      seed: Buffer.from('{"image":"a.png","text":"red","label":"x"}\n{"image":"b.png","text":["a","b"]}\n'),
      parse: manifest("jsonl"),
    },
    {
      name: "safetensors",
      seed: new Uint8Array(readFileSync(st)),
      parse: (b) => readSafetensors(file("f.safetensors", b)),
    },
    { name: "npy", seed: new Uint8Array(readFileSync(npy)), parse: (b) => readNpy(file("f.npy", b)) },
    {
      name: "idx",
      seed: idx(2051, [2, 2, 2], Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])),
      parse: async (b) => {
        file("train-labels-idx1-ubyte", labels);
        return readMnist([file("train-images-idx3-ubyte", b)], {}, new SkipLog());
      },
    },
    {
      name: "idx.gz",
      seed: gzipSync(idx(2051, [2, 2, 2], Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))),
      parse: async (b) => {
        file("train-labels-idx1-ubyte.gz", gzipSync(labels));
        return readMnist([file("train-images-idx3-ubyte.gz", b)], {}, new SkipLog());
      },
    },
    {
      name: "cifar",
      seed: new Uint8Array(3073 * 2).map((_, i) => (i % 3073 === 0 ? 3 : i & 255)),
      parse: (b) => readCifar10([file("data_batch_1.bin", b)], {}, new SkipLog()),
    },
    {
      name: "tokenizer.json",
      seed: Buffer.from(tokenizerJson(tok)),
      parse: (b) => parseTokenizerJson(Buffer.from(b).toString("utf8"), "tokenizer.json"),
    },
    ...modelAndIndexTargets(),
  ];
}

async function main(): Promise<void> {
  const [seedArg, countArg, only] = process.argv.slice(2);
  const rand = rng(Number(seedArg ?? 1));
  const count = Number(countArg ?? 100);
  const report = (at: string, input: Uint8Array, message: string) =>
    process.stdout.write(
      `${JSON.stringify({ finding: at, message, input: Buffer.from(input).toString("base64") })}\n`,
    );
  for (const t of targets()) {
    if (only !== undefined && t.name !== only) continue;
    for (let i = 0; i < count; i++) {
      const input = (t.mutate ?? mutate)(t.seed, rand);
      const at = `${t.name}#${i}`;
      process.stdout.write(`${JSON.stringify({ at })}\n`);
      const started = performance.now();
      try {
        await t.parse(input);
      } catch (e) {
        if (!(e instanceof UserError && !e.message.includes("\n")))
          report(at, input, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      }
      const seconds = (performance.now() - started) / 1000;
      if (seconds > INPUT_SECONDS)
        report(at, input, `took ${seconds.toFixed(1)} s (limit ${INPUT_SECONDS} s)`);
      const rss = process.memoryUsage().rss;
      if (rss > INPUT_MEMORY) report(at, input, `left the process at ${rss} bytes (limit ${INPUT_MEMORY})`);
    }
  }
  process.stdout.write(`${JSON.stringify({ done: true })}\n`);
}

await main();
