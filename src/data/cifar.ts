/**
 * CIFAR-10 binary batches (`data_batch_1.bin` … `test_batch.bin`): records of one label byte and 3072 pixel
 * bytes stored channel by channel (1024 R, 1024 G, 1024 B), turned into interleaved 32×32 RGB raw images.
 * Class names come from `classes`, else batches.meta.txt beside the batch, else the standard ten.
 */
import { existsSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { UserError } from "../util/errors.js";
import { applyTemplate, checkTemplate, type DatasetOptions, DEFAULT_TEMPLATE } from "./options.js";
import type { Sample, SkipLog } from "./types.js";

export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

const SIDE = 32;
const PLANE = SIDE * SIDE;
const RECORD = 1 + 3 * PLANE;

export function isCifarBatchName(name: string): boolean {
  return /^(data_batch_\d+|test_batch)\.bin$/.test(name);
}

/** The batch files of a CIFAR-10 folder for a split, in order. */
export function cifarBatches(dir: string, names: string[], split: "train" | "test"): string[] {
  const chosen = names
    .filter((n) => (split === "test" ? n === "test_batch.bin" : /^data_batch_\d+\.bin$/.test(n)))
    .sort((a, b) => Number(a.replace(/\D/g, "")) - Number(b.replace(/\D/g, "")));
  if (chosen.length === 0)
    throw new UserError(
      `${dir}: no CIFAR-10 ${split} batches (${split === "test" ? "test_batch.bin" : "data_batch_<n>.bin"})`,
    );
  return chosen.map((n) => join(dir, n));
}

async function classNames(batch: string, opts: DatasetOptions): Promise<string[]> {
  if (opts.classes) return opts.classes;
  const meta = join(dirname(batch), "batches.meta.txt");
  if (!existsSync(meta)) return CIFAR10_CLASSES;
  const names = (await readFile(meta, "utf8"))
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (names.length === 0) throw new UserError(`${meta}: no class names in it`);
  return names;
}

/** Records read at once: 3 MB, whatever the batch's size. */
const READ_RECORDS = 1000;

/**
 * CIFAR-10 batches' samples as a stream: records read by offset, a thousand at a time, each sample holding
 * its own 3 KB of pixels (so a shuffle buffer keeps only the records it holds). A batch whose length is not
 * a whole number of records is refused before its first record, as readCifar10 refuses it.
 */
export async function* streamCifar10(
  batches: string[],
  opts: DatasetOptions,
  log: SkipLog,
): AsyncGenerator<Sample> {
  const template = checkTemplate(opts.template ?? DEFAULT_TEMPLATE);
  for (const file of batches) {
    const classes = await classNames(file, opts);
    const fh = await open(file, "r").catch((e: NodeJS.ErrnoException) => {
      throw new UserError(`cannot read CIFAR-10 batch ${file}: ${e.code ?? e.message}`);
    });
    try {
      const { size } = await fh.stat();
      const count = Math.floor(size / RECORD);
      if (size % RECORD !== 0)
        throw new UserError(
          `${file}: truncated CIFAR-10 batch at byte offset ${count * RECORD}: records are ${RECORD} bytes and ` +
            `${size % RECORD} bytes are left over (is ${basename(file)} a CIFAR-10 binary batch?)`,
        );
      const bytes = new Uint8Array(READ_RECORDS * RECORD);
      for (let r0 = 0; r0 < count; r0 += READ_RECORDS) {
        const records = Math.min(READ_RECORDS, count - r0);
        const { bytesRead } = await fh.read(bytes, 0, records * RECORD, r0 * RECORD);
        if (bytesRead !== records * RECORD)
          throw new UserError(`${file}: changed while being read (record ${r0 + 1} is no longer there)`);
        for (let k = 0; k < records; k++) {
          const origin = { file, line: r0 + k + 1 };
          const at = k * RECORD;
          const index = bytes[at]!;
          const label = classes[index];
          if (label === undefined) {
            log.add(origin, `label out of range: ${index}, there are ${classes.length} classes`);
            continue;
          }
          const pixels = new Uint8Array(3 * PLANE);
          for (let c = 0; c < 3; c++) {
            const plane = at + 1 + c * PLANE;
            for (let p = 0; p < PLANE; p++) pixels[p * 3 + c] = bytes[plane + p]!;
          }
          yield {
            image: { kind: "raw", width: SIDE, height: SIDE, channels: 3, pixels },
            text: applyTemplate(template, label),
            label,
            origin,
          };
        }
      }
    } finally {
      await fh.close();
    }
  }
}

export async function readCifar10(batches: string[], opts: DatasetOptions, log: SkipLog): Promise<Sample[]> {
  const samples: Sample[] = [];
  for await (const s of streamCifar10(batches, opts, log)) samples.push(s);
  return samples;
}
