/**
 * The quickstart data set: the same ~1,900 emoji drawn in two styles (Google Noto and Twitter Twemoji,
 * 64 px PNGs from the emoji-datasource packages, used in place inside node_modules) with captions from
 * emojibase's English names and tags and the emoji category as label. A tenth of the emoji concepts (both
 * styles) are held out for test by a hash of the codepoint, so the split is stable across runs and versions.
 *
 * Captions: the emoji's name plus up to three of its tags (those not already words of the name), in an
 * order fixed by a hash of codepoint and tag; the second style starts one tag later. So the two styles of an
 * emoji with two or more such tags get different captions that share the name (text-side variety without
 * invented words); emoji with fewer tags get the same caption in both styles.
 *
 * Training rows (captions "several") carry a list of captions in `text`, that one first, then
 * captions made of the category, subcategory, name and tags ("a Smileys & Emotion emoji: grinning face"):
 * training samples one per step, and the category words the zero-shot prompts use ("a {} emoji.") occur in
 * training text. Test rows keep the one caption, so retrieval on test.jsonl scores one fixed text per image
 * (the same texts whichever captions training had). Captions "one" writes the single caption in train too.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { UserError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import { projectRoot } from "../util/paths.js";

export const EMOJI_STYLES = ["google", "twitter"] as const;
export type EmojiStyle = (typeof EMOJI_STYLES)[number];

export interface EmojiDatasetOptions {
  /** Fraction of emoji concepts held out for test.jsonl (default 0.1). */
  holdout?: number;
  /**
   * Write absolute image paths. By default paths are relative to the output folder when it lies inside the
   * project holding node_modules, else absolute.
   */
  absolutePaths?: boolean;
  /** Training rows' captions: "several" (a list, one sampled per step) or "one" (a string); default DEFAULT_EMOJI_CAPTIONS. */
  captions?: EmojiCaptions;
}

export const EMOJI_CAPTIONS = ["several", "one"] as const;
export type EmojiCaptions = (typeof EMOJI_CAPTIONS)[number];
/**
 * The training captions `juxta data emoji` (and the quickstart) writes unless told: several, because their
 * category words lift zero-shot top-1 from 0.10 to 0.25 (two seeds, docs/experiments/emoji-recipe.md).
 */
export const DEFAULT_EMOJI_CAPTIONS: EmojiCaptions = "several";

export interface EmojiRow {
  image: string;
  /** The caption, or (training rows with captions "several") the captions, the one above first. */
  text: string | string[];
  label: string;
  /** Unified codepoint(s) as in emoji-datasource, e.g. "1F600" or "0023-FE0F-20E3". */
  emoji: string;
  style: EmojiStyle;
}

export interface EmojiDatasetStats {
  trainFile: string;
  testFile: string;
  /** Emoji concepts written (each with one row per style). */
  concepts: number;
  trainConcepts: number;
  testConcepts: number;
  trainRows: number;
  testRows: number;
  /** Concepts per label (category). */
  labels: Record<string, number>;
  /** Emoji left out: skin-tone modifiers, or an image missing in either style. */
  excludedSkinTones: number;
  excludedMissingImage: number;
  /** Emoji without an emojibase entry (captioned from emoji-datasource's name instead). */
  unmatched: number;
  /** Emoji whose emojibase group disagrees with emoji-datasource's category (a cross-check; expect 0). */
  groupMismatches: number;
}

interface DatasourceEmoji {
  name: string | null;
  unified: string;
  non_qualified: string | null;
  image: string;
  short_names: string[];
  category: string;
  subcategory: string;
  sort_order: number;
  has_img_google?: boolean;
  has_img_twitter?: boolean;
}

interface EmojibaseEmoji {
  label: string;
  hexcode: string;
  tags?: string[];
  group?: number;
}

interface PackageInfo {
  dir: string;
  name: string;
  version: string;
  license: string;
}

const require = createRequire(import.meta.url);

/** The emoji packages: optional peer dependencies (~200 MB), so only those who build the data set install them. */
export const EMOJI_PACKAGES = [
  "emoji-datasource-google",
  "emoji-datasource-twitter",
  "emojibase-data",
] as const;

/** `npm install` with the emoji packages at the versions Juxta's package.json accepts. */
export function emojiInstallCommand(): string {
  const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as {
    peerDependencies?: Record<string, string>;
  };
  const spec = (name: string) => `${name}@${JSON.stringify(pkg.peerDependencies?.[name] ?? "latest")}`;
  return `npm install ${EMOJI_PACKAGES.map(spec).join(" ")}`;
}

function packageInfo(name: string): PackageInfo {
  let manifest: string;
  try {
    manifest = require.resolve(`${name}/package.json`);
  } catch {
    throw new UserError(
      `the npm package ${name} is not installed: the emoji data set is drawn from ${EMOJI_PACKAGES.join(", ")} ` +
        `(about 200 MB, not installed with Juxta). Install them with: ${emojiInstallCommand()}`,
    );
  }
  const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { version: string; license?: string };
  return { dir: dirname(manifest), name, version: pkg.version, license: pkg.license ?? "see its LICENSE" };
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/** Codepoints as one spelling: upper-case hex, no FE0F variation selectors (emojibase drops some of them). */
export function normalizeCodepoint(unified: string): string {
  return unified
    .toUpperCase()
    .split("-")
    .filter((c) => c !== "FE0F")
    .join("-");
}

/** FNV-1a, 32 bit: a small stable hash, so splits and tag choices never change between runs. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Whether an emoji concept belongs to the held-out test set. */
export function isHeldOut(unified: string, holdout: number): boolean {
  return fnv1a(`split:${normalizeCodepoint(unified)}`) % 10_000 < holdout * 10_000;
}

/** The tags not already words of the name, in an order fixed by a hash; each style starts one further. */
function styleTags(name: string, tags: string[], style: EmojiStyle, unified: string): string[] {
  const words = new Set(name.toLowerCase().split(/[^\p{L}\p{N}]+/u));
  const ordered = [...new Set(tags.map((t) => t.trim()))]
    .filter((t) => t !== "" && !words.has(t.toLowerCase()))
    .sort((a, b) => fnv1a(`${unified}:${a}`) - fnv1a(`${unified}:${b}`));
  // Each style starts one tag further along, so two or more tags always give the styles different captions.
  const shift = EMOJI_STYLES.indexOf(style) % Math.max(ordered.length, 1);
  return [...ordered.slice(shift), ...ordered.slice(0, shift)];
}

function caption(name: string, tags: string[], style: EmojiStyle, unified: string): string {
  return [name, ...styleTags(name, tags, style, unified).slice(0, 3)].join(", ");
}

/** What an emoji's captions are made of. */
export interface EmojiFacts {
  name: string;
  tags: string[];
  /** emoji-datasource's category, the label ("Smileys & Emotion"). */
  category: string;
  /** Its subcategory ("face-smiling"). */
  subcategory: string;
  unified: string;
}

/**
 * An emoji's training captions, distinct, the single caption first: with the category (as the zero-shot
 * prompts name it), the subcategory's words, the name and the tags in varied combinations.
 */
export function emojiCaptions(e: EmojiFacts, style: EmojiStyle): string[] {
  const tags = styleTags(e.name, e.tags, style, e.unified);
  const sub = e.subcategory.replaceAll("-", " ");
  const withTags = (head: string, n: number) => [head, ...tags.slice(0, n)].join(", ");
  const all = [
    caption(e.name, e.tags, style, e.unified),
    `a ${e.category} emoji: ${e.name}`,
    withTags(`a ${e.category} emoji: ${e.name}`, 2),
    `${e.name}, a ${sub} emoji`,
    `an emoji of ${e.name}`,
    tags.length > 0
      ? `${e.category}, ${sub}: ${tags.slice(0, 3).join(", ")}`
      : `${e.category}, ${sub}: ${e.name}`,
  ];
  return [...new Set(all)];
}

/** The line of emoji-datasource's README that states the licence of a style's images. */
function imageLicence(pkg: PackageInfo, word: string): string {
  const readme = join(pkg.dir, "README.md");
  const line = existsSync(readme)
    ? readFileSync(readme, "utf8")
        .split("\n")
        .find((l) => l.startsWith("*") && l.includes(word) && l.includes("images"))
    : undefined;
  return line ? line.replace(/^\*\s*/, "") : `see ${pkg.name}'s README`;
}

function readme(
  stats: EmojiDatasetStats,
  pkgs: PackageInfo[],
  licences: string[],
  captions: EmojiCaptions,
): string {
  const labels = Object.entries(stats.labels)
    .map(([k, n]) => `| ${k} | ${n} |`)
    .join("\n");
  return `# Emoji quickstart data set

${stats.concepts} emoji, each drawn in two styles (Google Noto and Twitter Twemoji, 64×64 PNG), with
captions made of the emoji's English name and up to three of its tags, and its category as label.
Written by \`juxta data emoji\`.

- \`train.jsonl\`: ${stats.trainRows} rows (${stats.trainConcepts} emoji)
- \`test.jsonl\`: ${stats.testRows} rows (${stats.testConcepts} emoji held out by a hash of the codepoint;
  both styles of a held-out emoji are in test, so test emoji are never seen in training)

Each row: \`image\` (path to the PNG inside node_modules), \`text\`, \`label\`, \`emoji\` (unified
codepoint), \`style\` (google or twitter). Skin-tone variants are left out.
${
  captions === "several"
    ? `In train.jsonl \`text\` is a list of captions (that caption first, then ones with the category and
subcategory words, e.g. "a Smileys & Emotion emoji: grinning face"); training samples one per step. Test rows
keep one caption each.`
    : "Every row has one caption (written with --captions one)."
}

| label | emoji |
| --- | --- |
${labels}

## Sources and licences

${pkgs.map((p) => `- ${p.name} ${p.version}: ${p.license} licence (package data)`).join("\n")}
${licences.map((l) => `- ${l}`).join("\n")}
- Names and tags: emojibase-data (Miles Johnson), from the Unicode CLDR annotations.
`;
}

/** Build DIR/train.jsonl, DIR/test.jsonl and DIR/README.md from the installed emoji packages. */
export async function buildEmojiDataset(
  outDir: string,
  opts: EmojiDatasetOptions = {},
): Promise<EmojiDatasetStats> {
  const holdout = opts.holdout ?? 0.1;
  if (!(holdout > 0 && holdout < 1)) throw new UserError(`holdout must be between 0 and 1, got ${holdout}`);
  const captions = opts.captions ?? DEFAULT_EMOJI_CAPTIONS;
  if (!EMOJI_CAPTIONS.includes(captions))
    throw new UserError(`captions must be one of ${EMOJI_CAPTIONS.join(", ")}, got ${captions}`);
  const sources = {
    google: packageInfo("emoji-datasource-google"),
    twitter: packageInfo("emoji-datasource-twitter"),
  };
  const emojibase = packageInfo("emojibase-data");
  const names = new Map<string, EmojibaseEmoji>();
  for (const e of readJson<EmojibaseEmoji[]>(join(emojibase.dir, "en", "data.json")))
    names.set(normalizeCodepoint(e.hexcode), e);
  const groups = readJson<{ groups: Record<string, string> }>(
    join(emojibase.dir, "meta", "groups.json"),
  ).groups;
  const lists = {
    google: readJson<DatasourceEmoji[]>(join(sources.google.dir, "emoji.json")),
    twitter: new Map(
      readJson<DatasourceEmoji[]>(join(sources.twitter.dir, "emoji.json")).map(
        (e) => [e.unified, e] as const,
      ),
    ),
  };

  const out = resolve(outDir);
  // Relative paths survive moving the project, but only if the output folder lives inside it.
  const modules = sources.google.dir.lastIndexOf(`${sep}node_modules${sep}`);
  const fromProject = modules < 0 ? ".." : relative(sources.google.dir.slice(0, modules), out);
  const inside = !fromProject.startsWith("..") && !isAbsolute(fromProject);
  const imagePath = (style: EmojiStyle, file: string) => {
    const abs = join(sources[style].dir, "img", style, "64", file);
    return opts.absolutePaths || !inside ? abs : relative(out, abs);
  };
  const stats: EmojiDatasetStats = {
    trainFile: join(out, "train.jsonl"),
    testFile: join(out, "test.jsonl"),
    concepts: 0,
    trainConcepts: 0,
    testConcepts: 0,
    trainRows: 0,
    testRows: 0,
    labels: {},
    excludedSkinTones: 0,
    excludedMissingImage: 0,
    unmatched: 0,
    groupMismatches: 0,
  };
  const train: string[] = [];
  const test: string[] = [];
  const ordered = [...lists.google].sort((a, b) => a.sort_order - b.sort_order);
  for (const g of ordered) {
    if (g.subcategory === "skin-tone" || /-?1F3F[B-F]/.test(g.unified)) {
      stats.excludedSkinTones++;
      continue;
    }
    const t = lists.twitter.get(g.unified);
    const images = {
      google: g.has_img_google ? g.image : undefined,
      twitter: t?.has_img_twitter ? t.image : undefined,
    };
    const present = EMOJI_STYLES.every((s) => {
      const file = images[s];
      return file !== undefined && existsSync(join(sources[s].dir, "img", s, "64", file));
    });
    if (!present) {
      stats.excludedMissingImage++;
      continue;
    }
    const base =
      names.get(normalizeCodepoint(g.unified)) ?? names.get(normalizeCodepoint(g.non_qualified ?? ""));
    if (!base) stats.unmatched++;
    else if (base.group !== undefined && groups[base.group] !== slug(g.category)) stats.groupMismatches++;
    const name = base?.label ?? (g.name ?? g.short_names[0] ?? g.unified).toLowerCase();
    const tags = base?.tags ?? g.short_names.map((s) => s.replaceAll("_", " "));
    const held = isHeldOut(g.unified, holdout);
    stats.concepts++;
    stats.labels[g.category] = (stats.labels[g.category] ?? 0) + 1;
    if (held) stats.testConcepts++;
    else stats.trainConcepts++;
    for (const style of EMOJI_STYLES) {
      const facts = { name, tags, category: g.category, subcategory: g.subcategory, unified: g.unified };
      const row: EmojiRow = {
        image: imagePath(style, images[style]!),
        text:
          held || captions === "one" ? caption(name, tags, style, g.unified) : emojiCaptions(facts, style),
        label: g.category,
        emoji: g.unified,
        style,
      };
      (held ? test : train).push(JSON.stringify(row));
    }
  }
  stats.trainRows = train.length;
  stats.testRows = test.length;
  if (stats.concepts === 0) throw new UserError("no emoji found with images in both styles");

  const licences = [
    `Google images (${sources.google.name}): ${imageLicence(sources.google, "Google")}`,
    `Twitter images (${sources.twitter.name}): ${imageLicence(sources.twitter, "Twitter")}`,
  ];
  ensureDir(out);
  writeFileAtomic(stats.trainFile, `${train.join("\n")}\n`);
  writeFileAtomic(stats.testFile, `${test.join("\n")}\n`);
  writeFileAtomic(
    join(out, "README.md"),
    readme(stats, [sources.google, sources.twitter, emojibase], licences, captions),
  );
  return stats;
}

/** "Food & Drink" → "food-drink", emojibase's spelling of group names. */
function slug(category: string): string {
  return category
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}
