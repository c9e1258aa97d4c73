/**
 * Manifests: JSONL, CSV and TSV files whose rows name an image, a caption and optionally a label. Rows are
 * read with field paths (see fieldpath.ts), image paths resolve against the manifest's folder, and every bad
 * row (broken JSON or UTF-8, missing or mistyped field, blank caption, absent image file) is logged and
 * skipped with its line.
 */
import { open, readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { jsonErrorMessage, UserError } from "../util/errors.js";
import { type DelimitedRecord, parseDelimited, streamDelimited } from "./delimited.js";
import { type FieldPath, followPath, parseFieldPath, type Reached } from "./fieldpath.js";
import { applyTemplate, checkTemplate, type DatasetOptions } from "./options.js";
import type { Sample, SkipLog } from "./types.js";

export type ManifestFormat = "jsonl" | "csv" | "tsv";

interface Row {
  line: number;
  value: unknown;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** One JSONL line as a row, or undefined (blank, or logged as bad). */
function jsonlRow(raw: Uint8Array, line: number, file: string, log: SkipLog): Row | undefined {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    log.add({ file, line }, "not UTF-8: the line holds bytes that are not valid UTF-8");
    return undefined;
  }
  if (text.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    log.add({ file, line }, `invalid JSON: ${jsonErrorMessage(e)}`);
    return undefined;
  }
  if (typeof value !== "object" || value === null) {
    log.add({ file, line }, `wrong type: expected a JSON object, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return { line, value };
}

function* jsonlRows(bytes: Uint8Array, file: string, log: SkipLog): Generator<Row> {
  let line = 0;
  let pos = 0;
  while (pos < bytes.length) {
    line++;
    let end = bytes.indexOf(0x0a, pos);
    if (end < 0) end = bytes.length;
    const row = jsonlRow(bytes.subarray(pos, end), line, file, log);
    pos = end + 1;
    if (row) yield row;
  }
}

/** A file's lines (without the newline) read in 1 MiB windows, so memory holds one window and one line. */
async function* fileLines(file: string): AsyncGenerator<Uint8Array> {
  const fh = await open(file, "r").catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read manifest ${file}: ${e.code ?? e.message}`);
  });
  try {
    const window = new Uint8Array(1 << 20);
    let carry = new Uint8Array(0);
    for (;;) {
      const { bytesRead } = await fh.read(window, 0, window.length, null);
      if (bytesRead === 0) break;
      let chunk = window.subarray(0, bytesRead);
      if (carry.length > 0) {
        const joined = new Uint8Array(carry.length + chunk.length);
        joined.set(carry);
        joined.set(chunk, carry.length);
        chunk = joined;
      }
      let pos = 0;
      for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, pos)) {
        yield chunk.subarray(pos, end);
        pos = end + 1;
      }
      carry = chunk.slice(pos);
    }
    if (carry.length > 0) yield carry;
  } finally {
    await fh.close();
  }
}

/**
 * Turns a CSV/TSV file's records into rows: the first is the header (a broken or repeated column is fatal),
 * each later one a row keyed by it (a record with another field count is logged and skipped).
 */
function delimitedRowsOf(file: string, log: SkipLog): (rec: DelimitedRecord) => Row | undefined {
  let header: string[] | undefined;
  return (rec) => {
    if ("error" in rec) {
      if (!header) throw new UserError(`${file}:${rec.line}: cannot read the header row: ${rec.error}`);
      log.add({ file, line: rec.line }, rec.error);
      return undefined;
    }
    if (!header) {
      header = rec.fields.map((h) => h.trim());
      const seen = new Set<string>();
      for (const h of header) {
        if (seen.has(h))
          throw new UserError(`${file}:${rec.line}: column '${h}' appears twice in the header row`);
        seen.add(h);
      }
      return undefined;
    }
    if (rec.fields.length !== header.length) {
      log.add(
        { file, line: rec.line },
        `wrong field count: expected ${header.length} fields (as in the header), got ${rec.fields.length}`,
      );
      return undefined;
    }
    const value: Record<string, string> = {};
    header.forEach((h, i) => {
      value[h] = rec.fields[i]!;
    });
    return { line: rec.line, value };
  };
}

function delimiterOf(format: ManifestFormat) {
  return { delimiter: format === "tsv" ? "\t" : ",", quotes: format !== "tsv" } as const;
}

function* delimitedRows(
  bytes: Uint8Array,
  file: string,
  format: ManifestFormat,
  log: SkipLog,
): Generator<Row> {
  const rowOf = delimitedRowsOf(file, log);
  for (const rec of parseDelimited(bytes, delimiterOf(format))) {
    const row = rowOf(rec);
    if (row) yield row;
  }
}

/** A manifest's rows read window by window (see fileLines and streamDelimited). */
async function* streamRows(file: string, format: ManifestFormat, log: SkipLog): AsyncGenerator<Row> {
  if (format === "jsonl") {
    let line = 0;
    for await (const raw of fileLines(file)) {
      const row = jsonlRow(raw, ++line, file, log);
      if (row) yield row;
    }
    return;
  }
  const rowOf = delimitedRowsOf(file, log);
  for await (const rec of streamDelimited(file, delimiterOf(format))) {
    const row = rowOf(rec);
    if (row) yield row;
  }
}

/** A column of a CSV/TSV file: the whole field name, since column names may contain dots or brackets. */
function columnPath(name: string): FieldPath {
  return { source: name, steps: [{ key: name }], fansOut: false };
}

function typeName(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null ? "null" : `a ${typeof v}`;
}

interface Pending {
  line: number;
  image: string;
  texts: string[];
  /** The texts are one image's alternative captions (a list value), not one pair each (a [*] path). */
  alternatives: boolean;
  label?: string;
}

/** The strings a path reaches in one row; unusable values are logged, `undefined` if none is usable. */
function strings(
  row: Row,
  path: FieldPath,
  what: string,
  file: string,
  log: SkipLog,
  blank: string,
): string[] | undefined {
  const reached: Reached[] = followPath(row.value, path);
  const loc = { file, line: row.line, field: path.source };
  if (reached.length === 0) {
    log.add(loc, `missing field: ${path.source} matched an empty list`);
    return undefined;
  }
  const out: string[] = [];
  for (const r of reached) {
    if (!r.ok) log.add(loc, r.reason);
    else if (typeof r.value !== "string")
      log.add(loc, `wrong type: the ${what} is ${typeName(r.value)}, expected a string`);
    else if (r.value.trim() === "") log.add(loc, blank);
    else out.push(r.value.trim());
  }
  return out.length > 0 ? out : undefined;
}

/**
 * A list of captions at a path without [*]: the strings among them (other entries logged), undefined if
 * none is usable.
 */
function captionList(
  list: unknown[],
  row: Row,
  path: FieldPath,
  file: string,
  log: SkipLog,
): string[] | undefined {
  const loc = { file, line: row.line, field: path.source };
  const out: string[] = [];
  for (const v of list) {
    if (typeof v !== "string")
      log.add(loc, `wrong type: a caption in the list is ${typeName(v)}, expected a string`);
    else if (v.trim() === "") log.add(loc, "empty caption");
    else out.push(v.trim());
  }
  if (list.length === 0) log.add(loc, "empty caption: the list of captions is empty");
  return out.length > 0 ? out : undefined;
}

/** Existence of each distinct path, checked a few dozen at a time. */
async function existing(paths: Iterable<string>): Promise<Set<string>> {
  const all = [...new Set(paths)];
  const ok = new Set<string>();
  const width = 32;
  for (let i = 0; i < all.length; i += width) {
    await Promise.all(
      all.slice(i, i + width).map(async (p) => {
        const s = await stat(p).catch(() => undefined);
        if (s?.isFile()) ok.add(p);
      }),
    );
  }
  return ok;
}

/** Turns a manifest's rows into samples: the field paths, the template, the checks of the header. */
function rowReader(file: string, format: ManifestFormat, opts: DatasetOptions, log: SkipLog) {
  const jsonl = format === "jsonl";
  const path = (name: string) => (jsonl ? parseFieldPath(name) : columnPath(name));
  const imagePath = path(opts.imageField ?? "image");
  const textPath = path(opts.textField ?? "text");
  const labelPath = path(opts.labelField ?? "label");
  if (labelPath.fansOut)
    throw new UserError(`label field '${labelPath.source}' must name one value, not use [*]`);
  const template = opts.template === undefined ? undefined : checkTemplate(opts.template);
  const base = dirname(resolve(file));
  let checkedColumns = jsonl;

  /** The images a row names, each with its captions and label (bad rows logged, none returned). */
  const pending = (row: Row): Pending[] => {
    if (!checkedColumns) {
      const columns = Object.keys(row.value as object);
      for (const p of template === undefined ? [imagePath, textPath] : [imagePath])
        if (!columns.includes(p.source))
          throw new UserError(
            `${file}: no column '${p.source}' in the header row (columns: ${columns.join(", ")})${delimiterHint(columns, format)}`,
          );
      checkedColumns = true;
    }
    const labelValue = followPath(row.value, labelPath)[0];
    let label: string | undefined;
    if (labelValue?.ok) {
      const v = labelValue.value;
      if (typeof v === "number" || (typeof v === "string" && v.trim() !== "")) label = String(v).trim();
      else if (typeof v !== "string") {
        log.add({ file, line: row.line, field: labelPath.source }, `wrong type: the label is ${typeName(v)}`);
        return [];
      }
    }
    const images = strings(row, imagePath, "image path", file, log, "missing field: the image path is empty");
    if (!images) return [];
    let texts: string[] | undefined;
    const reached = followPath(row.value, textPath);
    const list =
      !textPath.fansOut && reached[0]?.ok && Array.isArray(reached[0].value) ? reached[0].value : undefined;
    if (template !== undefined && label !== undefined && reached.every((r) => !r.ok))
      texts = [applyTemplate(template, label)];
    else if (list) texts = captionList(list, row, textPath, file, log);
    else texts = strings(row, textPath, "caption", file, log, "empty caption");
    if (!texts) return [];
    const out: Pending[] = [];
    for (const image of images) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(image)) {
        log.add(
          { file, line: row.line, field: imagePath.source },
          `remote image: ${image} (URLs are not downloaded)`,
        );
        continue;
      }
      out.push({
        line: row.line,
        image: resolve(base, image),
        texts,
        alternatives: list !== undefined,
        label,
      });
    }
    return out;
  };

  /** The samples of pending images, those whose file is missing (when checked) logged and left out. */
  const samples = async (items: readonly Pending[]): Promise<Sample[]> => {
    const found = opts.checkImages === false ? undefined : await existing(items.map((p) => p.image));
    const out: Sample[] = [];
    for (const p of items) {
      if (found && !found.has(p.image)) {
        log.add({ file, line: p.line, field: imagePath.source }, `missing image: ${p.image}`);
        continue;
      }
      for (const text of p.alternatives ? p.texts.slice(0, 1) : p.texts) {
        const sample: Sample = {
          image: { kind: "file", path: p.image },
          text,
          origin: { file, line: p.line },
        };
        if (p.alternatives && p.texts.length > 1) sample.captions = p.texts;
        if (p.label !== undefined) sample.label = p.label;
        out.push(sample);
      }
    }
    return out;
  };
  return { pending, samples };
}

export async function readManifest(
  file: string,
  format: ManifestFormat,
  opts: DatasetOptions,
  log: SkipLog,
): Promise<Sample[]> {
  const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read manifest ${file}: ${e.code ?? e.message}`);
  });
  const reader = rowReader(file, format, opts, log);
  const rows = format === "jsonl" ? jsonlRows(bytes, file, log) : delimitedRows(bytes, file, format, log);
  const pending: Pending[] = [];
  for (const row of rows) pending.push(...reader.pending(row));
  return reader.samples(pending);
}

/** Rows whose image files are checked at once while streaming. */
const STREAM_CHUNK = 256;

/**
 * A manifest's samples as a stream, row by row (JSONL line by line, CSV and TSV record by record): the same
 * samples, in the same order and with the same skips and errors, as readManifest, in memory that does not
 * grow with the file (a read window, and a chunk of rows whose image files are checked together).
 */
export async function* streamManifest(
  file: string,
  opts: DatasetOptions,
  log: SkipLog,
  format: ManifestFormat = "jsonl",
): AsyncGenerator<Sample> {
  const reader = rowReader(file, format, opts, log);
  let chunk: Pending[] = [];
  for await (const row of streamRows(file, format, log)) {
    chunk.push(...reader.pending(row));
    if (chunk.length >= STREAM_CHUNK) {
      yield* await reader.samples(chunk);
      chunk = [];
    }
  }
  yield* await reader.samples(chunk);
}

/**
 * Why a header came out as one column, when another delimiter splits it: a semicolon CSV (common where the
 * comma is the decimal mark) or a tab-separated file named .csv.
 */
function delimiterHint(columns: string[], format: ManifestFormat): string {
  if (columns.length !== 1) return "";
  const header = columns[0] as string;
  const expected = format === "tsv" ? "tab" : "comma";
  if (format !== "tsv" && header.includes("\t"))
    return "; the header is tab-separated: name the file .tsv or give the format tsv";
  if (format === "tsv" && header.includes(","))
    return "; the header is comma-separated: name the file .csv or give the format csv";
  for (const [sep, name] of [
    [";", "semicolon"],
    ["|", "pipe"],
  ])
    if (header.includes(sep as string))
      return `; the header looks ${name}-separated ('${sep}'), but this file is read as ${expected}-separated: save it with ${expected}s`;
  return "";
}
