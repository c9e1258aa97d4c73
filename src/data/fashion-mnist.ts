/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf 2017: Zalando's 70,000 28×28 grayscale clothing images, 10
 * classes, 60,000 train and 10,000 test) from Debian's `dataset-fashion-mnist` package, written as a data
 * folder Juxta reads with class words: the IDX files (all images, or the first N of each class for quick
 * experiments), classes.txt naming the labels, and a README. Reading the Debian folder directly gives the
 * same names (its folder name says "fashion"); the written folder also carries them when moved or renamed.
 *
 *   const stats = await writeFashionMnist("data/fmnist", { train: 6000, test: 2000 });
 *   // data/fmnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz, classes.txt, README.md
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { UserError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import {
  CLASSES_FILE,
  FASHION_MNIST_CLASSES,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  readIdxPair,
} from "./mnist.js";

/** Where Debian's dataset-fashion-mnist puts the four gzipped IDX files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

const FILES = {
  train: "train-images-idx3-ubyte.gz",
  test: "t10k-images-idx3-ubyte.gz",
} as const;

export interface FashionMnistOptions {
  /** The folder holding the original IDX files (default FASHION_MNIST_DIR). */
  from?: string;
  /** Training images to keep: the first train/10 of each class in file order (default all 60,000). */
  train?: number;
  /** Test images to keep, chosen the same way (default all 10,000). */
  test?: number;
}

export interface FashionMnistStats {
  dir: string;
  trainImages: number;
  testImages: number;
  /** Images per class name, in the training split. */
  trainPerClass: Record<string, number>;
}

/** Whether the Debian package's files are where it installs them. */
export function fashionMnistInstalled(dir = FASHION_MNIST_DIR): boolean {
  return existsSync(join(dir, FILES.train)) && existsSync(join(dir, FILES.test));
}

/**
 * The indices of the first `limit / classes` images of each class (all if limit is undefined), in file
 * order; a limit that does not divide evenly gives the first classes one more.
 */
export function balancedSubset(labels: Uint8Array, classes: number, limit: number | undefined): number[] {
  if (limit === undefined || limit >= labels.length) return Array.from(labels, (_, i) => i);
  const quota = Array.from(
    { length: classes },
    (_, c) => Math.floor(limit / classes) + (c < limit % classes ? 1 : 0),
  );
  const kept: number[] = [];
  for (let i = 0; i < labels.length && kept.length < limit; i++) {
    const c = labels[i] as number;
    if (c < classes && (quota[c] as number) > 0) {
      quota[c]!--;
      kept.push(i);
    }
  }
  return kept;
}

function idxFile(magic: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d);
  out.set(body, 4 + 4 * dims.length);
  return gzipSync(out, { level: 6 });
}

async function writeSplit(
  source: string,
  outDir: string,
  name: string,
  limit: number | undefined,
): Promise<{ count: number; perClass: number[] }> {
  const { rows, cols, pixels, labels } = await readIdxPair(source);
  const kept = balancedSubset(labels, FASHION_MNIST_CLASSES.length, limit);
  const size = rows * cols;
  const outPixels = new Uint8Array(kept.length * size);
  const outLabels = new Uint8Array(kept.length);
  const perClass = FASHION_MNIST_CLASSES.map(() => 0);
  for (const [j, i] of kept.entries()) {
    outPixels.set(pixels.subarray(i * size, (i + 1) * size), j * size);
    outLabels[j] = labels[i] as number;
    perClass[labels[i] as number]!++;
  }
  writeFileAtomic(join(outDir, name), idxFile(IDX_IMAGES_MAGIC, [kept.length, rows, cols], outPixels));
  writeFileAtomic(
    join(outDir, name.replace("images-idx3", "labels-idx1")),
    idxFile(IDX_LABELS_MAGIC, [kept.length], outLabels),
  );
  return { count: kept.length, perClass };
}

function checkLimit(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= FASHION_MNIST_CLASSES.length))
    throw new UserError(
      `${name} must be an integer of at least ${FASHION_MNIST_CLASSES.length} (one per class), got ${v}`,
    );
}

/** Write OUT/{train,t10k}-*-ubyte.gz, OUT/classes.txt and OUT/README.md from the installed package. */
export async function writeFashionMnist(
  outDir: string,
  opts: FashionMnistOptions = {},
): Promise<FashionMnistStats> {
  const from = opts.from ?? FASHION_MNIST_DIR;
  checkLimit("train", opts.train);
  checkLimit("test", opts.test);
  if (!fashionMnistInstalled(from))
    throw new UserError(
      `${from}: no Fashion-MNIST IDX files (${FILES.train}, ${FILES.test}); on Debian or Ubuntu install them with: ` +
        "sudo apt-get install dataset-fashion-mnist",
    );
  ensureDir(outDir);
  const train = await writeSplit(join(from, FILES.train), outDir, FILES.train, opts.train);
  const test = await writeSplit(join(from, FILES.test), outDir, FILES.test, opts.test);
  writeFileAtomic(join(outDir, CLASSES_FILE), `${FASHION_MNIST_CLASSES.join("\n")}\n`);
  writeFileAtomic(join(outDir, "README.md"), readme(train.count, test.count, from));
  return {
    dir: outDir,
    trainImages: train.count,
    testImages: test.count,
    trainPerClass: Object.fromEntries(FASHION_MNIST_CLASSES.map((c, i) => [c, train.perClass[i] as number])),
  };
}

function readme(train: number, test: number, from: string): string {
  return `# Fashion-MNIST

Zalando's article images (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747): 28×28 grayscale, 10 classes.
Written by \`juxta data fashion-mnist\` from ${from} (Debian package dataset-fashion-mnist).

- train: ${train} images${train < 60000 ? " (the first of each class in the original order, balanced)" : ""}
- test (t10k): ${test} images${test < 10000 ? " (chosen the same way)" : ""}
- classes.txt: the label words, in label order: ${FASHION_MNIST_CLASSES.join(", ")}

Licence: MIT (Copyright 2017 Zalando SE).
`;
}
