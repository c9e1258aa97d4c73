/**
 * Options shared by every data source (which fields hold the image, caption and label; the caption template
 * for labelled-only sources) and the template expansion itself.
 */
import { UserError } from "../util/errors.js";

/** The formats openDataset understands; `format` forces one instead of detecting it. */
export const FORMATS = ["jsonl", "csv", "tsv", "folder", "webdataset", "cifar10", "mnist"] as const;
export type DatasetFormat = (typeof FORMATS)[number];

export interface DatasetOptions {
  /** Field path of the image in manifest rows: `image` (default), `file.path`, `images[0]`. */
  imageField?: string;
  /** Field path of the caption: `text` (default), `captions[*].text` (one pair per caption). */
  textField?: string;
  /** Field path of the class label: `label` (default); optional in each row. */
  labelField?: string;
  /**
   * Caption for labelled-only data (folders, CIFAR, MNIST, manifest rows without text): `{label}` is
   * replaced by the class name with underscores as spaces. Default "a photo of a {label}.".
   */
  template?: string;
  /** Skip format detection. */
  format?: DatasetFormat;
  /** For folders holding both splits (CIFAR, MNIST, train.jsonl + test.jsonl): which to read; default train. */
  split?: "train" | "test";
  /** Class names by label index for CIFAR/MNIST, replacing batches.meta.txt or the standard names. */
  classes?: string[];
  /** Check that manifest image files exist (one stat each); default true. */
  checkImages?: boolean;
}

export const DEFAULT_TEMPLATE = "a photo of a {label}.";

/** "a photo of a {label}." with label "golden_retriever" → "a photo of a golden retriever." */
export function applyTemplate(template: string, label: string): string {
  return template.replaceAll("{label}", label.replaceAll("_", " "));
}

export function checkTemplate(template: string): string {
  if (!template.includes("{label}"))
    throw new UserError(
      `caption template '${template}' has no {label} placeholder, so every caption would be equal`,
    );
  return template;
}
