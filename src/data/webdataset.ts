/**
 * WebDataset shards: tar files whose members are grouped into samples by key (the path up to the first dot
 * of the file name: `a/0001.jpg`, `a/0001.txt`, `a/0001.cls` form one sample). The image comes from
 * jpg/jpeg/png/webp, the caption from txt or json (`text`/`caption`, or textField), the label from cls.
 * Samples with a label but no caption get one from the template, as class-only shards are common.
 */
import { readFile } from "node:fs/promises";
import { jsonErrorMessage, UserError } from "../util/errors.js";
import { followPath, parseFieldPath } from "./fieldpath.js";
import { applyTemplate, checkTemplate, type DatasetOptions, DEFAULT_TEMPLATE } from "./options.js";
import { readTar, streamTar, type TarMember } from "./tar.js";
import type { Sample, SkipLog } from "./types.js";

const IMAGE_EXTS = ["jpg", "jpeg", "png", "webp"];
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** `shard-{000..012}.tar` → the 13 names, zero padding kept (the usual way to name a shard set). */
export function expandBraces(pattern: string): string[] {
  const m = /\{(\d+)\.\.(\d+)\}/.exec(pattern);
  if (!m) return [pattern];
  const [from, to] = [Number(m[1]), Number(m[2])];
  if (to < from) throw new UserError(`shard pattern '${pattern}': range ${m[0]} runs backwards`);
  const width = m[1]!.length;
  const out: string[] = [];
  const head = pattern.slice(0, m.index);
  const tails = expandBraces(pattern.slice(m.index + m[0].length));
  for (let i = from; i <= to; i++) {
    for (const rest of tails) out.push(`${head}${String(i).padStart(width, "0")}${rest}`);
  }
  return out;
}

function splitKey(name: string): { key: string; ext: string } | undefined {
  const slash = name.lastIndexOf("/");
  const dot = name.indexOf(".", slash + 1);
  if (dot <= slash + 1) return undefined;
  return { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

function text(m: TarMember): string | undefined {
  try {
    return utf8.decode(m.data).trim();
  } catch {
    return undefined;
  }
}

interface Readers {
  template: string;
  textPaths: ReturnType<typeof parseFieldPath>[];
}

function readers(opts: DatasetOptions): Readers {
  return {
    template: checkTemplate(opts.template ?? DEFAULT_TEMPLATE),
    textPaths: (opts.textField ? [opts.textField] : ["text", "caption"]).map(parseFieldPath),
  };
}

export async function readWebDataset(
  shards: string[],
  opts: DatasetOptions,
  log: SkipLog,
): Promise<Sample[]> {
  const r = readers(opts);
  const samples: Sample[] = [];
  for (const file of shards) {
    const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
      throw new UserError(`cannot read shard ${file}: ${e.code ?? e.message}`);
    });
    const groups = new Map<string, Map<string, TarMember>>();
    for (const m of readTar(bytes, file)) {
      const parts = splitKey(m.name);
      if (!parts) {
        log.add({ file }, `unrecognised member: '${m.name}' is not named <key>.<extension>`);
        continue;
      }
      let group = groups.get(parts.key);
      if (!group) groups.set(parts.key, (group = new Map()));
      if (group.has(parts.ext)) log.add({ file }, `duplicate member: '${m.name}' appears twice`);
      else group.set(parts.ext, m);
    }
    let index = 0;
    for (const [key, group] of groups) {
      // A copy of the image, so the shard's buffer (with any members not used here) can be freed.
      const sample = sampleOf(r, key, group, { file, line: ++index }, log, true);
      if (sample) samples.push(sample);
    }
  }
  return samples;
}

/**
 * The samples of WebDataset shards as a stream, shard by shard, member by member (streamTar): memory holds
 * one sample at a time, whatever the shards' size. A sample's members are consecutive in its shard, as
 * webdataset writes them (a key that comes back later starts a new sample). The same samples, in the same
 * order, as readWebDataset for shards written that way.
 */
export async function* streamWebDataset(
  shards: readonly string[],
  opts: DatasetOptions,
  log: SkipLog,
): AsyncGenerator<Sample> {
  const r = readers(opts);
  for (const file of shards) {
    let index = 0;
    let key: string | undefined;
    let group = new Map<string, TarMember>();
    const flush = () =>
      key === undefined ? undefined : sampleOf(r, key, group, { file, line: ++index }, log, false);
    for await (const m of streamTar(file)) {
      const parts = splitKey(m.name);
      if (!parts) {
        log.add({ file }, `unrecognised member: '${m.name}' is not named <key>.<extension>`);
        continue;
      }
      if (parts.key !== key) {
        const done = flush();
        if (done) yield done;
        key = parts.key;
        group = new Map();
      }
      if (group.has(parts.ext)) log.add({ file }, `duplicate member: '${m.name}' appears twice`);
      else group.set(parts.ext, m);
    }
    const last = flush();
    if (last) yield last;
  }
}

/** One sample from a key's members, or undefined (counted in the log) when they do not make one. */
function sampleOf(
  r: Readers,
  key: string,
  group: Map<string, TarMember>,
  origin: { file: string; line: number },
  log: SkipLog,
  copy: boolean,
): Sample | undefined {
  const { file } = origin;
  // The key goes after the reason's kind, so that SkipLog still counts by kind.
  const skip = (reason: string) => {
    log.add(origin, reason.includes(":") ? `${reason} (key '${key}')` : `${reason}: key '${key}'`);
    return undefined;
  };
  const imageExt = IMAGE_EXTS.find((e) => group.has(e));
  if (!imageExt) return skip(`no image: expected one of .${IMAGE_EXTS.join(", .")}`);
  let caption: string | undefined;
  let label: string | undefined;
  const txt = group.get("txt");
  const json = group.get("json");
  const cls = group.get("cls");
  if (cls) {
    label = text(cls);
    if (label === undefined) return skip("not UTF-8: the .cls member");
    if (label === "") label = undefined;
  }
  if (txt) {
    caption = text(txt);
    if (caption === undefined) return skip("not UTF-8: the .txt member");
  } else if (json) {
    const raw = text(json);
    if (raw === undefined) return skip("not UTF-8: the .json member");
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      return skip(`invalid JSON: the .json member: ${jsonErrorMessage(e)}`);
    }
    const found = r.textPaths.flatMap((p) => followPath(parsed, p)).find((x) => x.ok);
    if (found && typeof found.value !== "string")
      return skip(`wrong type: the caption in the .json member is not a string`);
    caption = (found?.value as string | undefined)?.trim();
  }
  if (caption === "") return skip("empty caption");
  if (caption === undefined && label === undefined)
    return skip("missing field: no caption (.txt, .json) and no label (.cls)");
  const image = group.get(imageExt)!;
  const sample: Sample = {
    image: { kind: "bytes", bytes: copy ? image.data.slice() : image.data, name: `${file}:${image.name}` },
    text: caption ?? applyTemplate(r.template, label!),
    origin,
  };
  if (label !== undefined) sample.label = label;
  return sample;
}
