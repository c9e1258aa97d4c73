/**
 * A CLI command and its options, each option declared once: its spec gives the parser (node:util
 * parseArgs underneath), the help line, the checks (integer, minimum, choices), the default, the old names
 * still accepted, and the API option it feeds. The command's `run` receives typed values.
 */
import { parseArgs } from "node:util";
import { OptionError, UserError } from "../util/errors.js";
import { closest, didYouMean } from "../util/suggest.js";

interface SpecBase {
  /** What the option does: one line, or several (shown as continuation lines). */
  help: string | readonly string[];
  /** A one-letter form (`-k`). */
  short?: string;
  /** The value's placeholder in help and messages (`FILE`, `N`, `RUN`). */
  arg?: string;
  /** Old names still accepted; using one prints a note with the current name. */
  aliases?: readonly string[];
  /** A help heading ("clip and siglip:") over this option and the ones after it. */
  group?: string;
  /** The library option this flag feeds when it is not the flag in camelCase (`dataset.template`). */
  key?: string;
  /** The default in words when it is not one value here ("per method", "all"). */
  defaultHelp?: string;
  /** Refuse to run without it; a string says why the option matters, after "--out RUN is required". */
  required?: true | string;
}

export interface StringSpec extends SpecBase {
  type: "string";
  default?: string;
}
export interface BooleanSpec extends SpecBase {
  type: "boolean";
}
/** A number (`integer`: a whole one) within [min, max]. */
export interface NumberSpec extends SpecBase {
  type: "number" | "integer";
  default?: number;
  min?: number;
  max?: number;
}
export interface ChoiceSpec extends SpecBase {
  type: "choice";
  choices: readonly string[];
  default?: string;
}
export type OptionSpec = StringSpec | BooleanSpec | NumberSpec | ChoiceSpec;
export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S> = S extends { type: "boolean" }
  ? boolean
  : S extends { type: "number" | "integer" }
    ? number
    : S extends { type: "choice"; choices: readonly (infer C extends string)[] }
      ? C
      : string;
type Always<S> = S extends { default: unknown } ? true : S extends { required: true | string } ? true : false;

/** What `run` receives: options with a default or marked required are always there, the others maybe. */
export type ParsedValues<O extends OptionSpecs> = {
  -readonly [K in keyof O as Always<O[K]> extends true ? K : never]: ValueOf<O[K]>;
} & {
  -readonly [K in keyof O as Always<O[K]> extends true ? never : K]?: ValueOf<O[K]>;
};

export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  summary: string;
  usage: string;
  options: O;
  /** Help text before the options (what the command does, how). */
  intro?: string | readonly string[];
  /** Help text after the options (notes, examples). */
  notes?: string | readonly string[];
  run(values: ParsedValues<O>, positionals: string[]): Promise<void>;
}

export function defineCommand<const O extends OptionSpecs>(c: Command<O>): Command<O> {
  return c;
}

const lines = (text: string | readonly string[] | undefined): readonly string[] =>
  text === undefined ? [] : typeof text === "string" ? [text] : text;

/** `FILE` or, for choices without a placeholder, `a|b|c`. */
function argName(spec: OptionSpec): string | undefined {
  if (spec.type === "boolean") return undefined;
  if (spec.arg !== undefined) return spec.arg;
  if (spec.type === "choice") return spec.choices.join("|");
  return spec.type === "string" ? "VALUE" : "N";
}

/** `--top K` as help and messages show an option. */
export function optionLabel(name: string, spec: OptionSpec): string {
  const arg = argName(spec);
  return arg === undefined ? `--${name}` : `--${name} ${arg}`;
}

/** Option labels fill 20 columns; the text beside them is wrapped by hand at 85 columns. */
const HELP_COLUMN = 20;
const HELP_WIDTH = 85;

/** The options section of the help: one entry per option, grouped, with defaults and required marks. */
export function formatOptions(options: OptionSpecs): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(options)) {
    if (spec.group !== undefined) out.push(spec.group);
    const left = `${spec.short ? `-${spec.short}, ` : ""}${optionLabel(name, spec)}`;
    const text = [...lines(spec.help)];
    const defaultValue = "default" in spec && spec.default !== undefined ? String(spec.default) : undefined;
    const tail =
      spec.required !== undefined
        ? "(required)"
        : defaultValue !== undefined || spec.defaultHelp !== undefined
          ? `(default: ${defaultValue ?? spec.defaultHelp})`
          : undefined;
    const last = text.length - 1;
    if (tail !== undefined) {
      if (last >= 0 && (text[last] as string).length + 1 + tail.length <= HELP_WIDTH)
        text[last] += ` ${tail}`;
      else text.push(tail);
    }
    const pad = " ".repeat(2 + HELP_COLUMN + 1);
    // A label too long for its column (a list of choices) stands on its own line.
    if (left.length > HELP_COLUMN) out.push(`  ${left}`, ...text.map((l) => pad + l));
    else {
      const [first = "", ...rest] = text;
      out.push(`  ${left.padEnd(HELP_COLUMN)} ${first}`, ...rest.map((l) => pad + l));
    }
  }
  return out;
}

/** `juxta CMD --help`: usage, summary, intro, the options from their specs, then the notes. */
export function formatHelp(cmd: Command): string {
  const sections = [`usage: ${cmd.usage}`, cmd.summary];
  const intro = lines(cmd.intro);
  if (intro.length > 0) sections.push(intro.join("\n"));
  if (Object.keys(cmd.options).length > 0)
    sections.push(["options:", ...formatOptions(cmd.options)].join("\n"));
  const notes = lines(cmd.notes);
  if (notes.length > 0) sections.push(notes.join("\n"));
  return sections.join("\n\n");
}

/** Every name an option answers to, current and old, with the option each belongs to. */
function namesOf(options: OptionSpecs): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) {
    names.set(name, name);
    for (const alias of spec.aliases ?? []) names.set(alias, name);
  }
  return names;
}

/**
 * Parse argv for a command: unknown options (with the closest known one), missing values, bad numbers
 * and choices, and missing required options are UserErrors naming the flag as typed.
 */
export function parseCommand<O extends OptionSpecs>(
  cmd: Command<O>,
  argv: string[],
): { values: ParsedValues<O>; positionals: string[] } {
  const options: OptionSpecs = cmd.options;
  const names = namesOf(options);
  const config: NonNullable<Parameters<typeof parseArgs>[0]>["options"] = {};
  for (const [alias, name] of names) {
    const spec = options[name] as OptionSpec;
    config[alias] = {
      type: spec.type === "boolean" ? "boolean" : "string",
      ...(alias === name && spec.short ? { short: spec.short } : {}),
    };
  }
  const usage = `\nusage: ${cmd.usage}`;
  let tokens: NonNullable<ReturnType<typeof parseArgs>["tokens"]>;
  try {
    // Not strict: unknown options come back as tokens, so the error can suggest the option meant.
    tokens = parseArgs({ args: argv, options: config, allowPositionals: true, strict: false, tokens: true })
      .tokens as typeof tokens;
  } catch (e) {
    throw new UserError(`${(e as Error).message}${usage}`);
  }
  const given = new Map<string, { value: string | true; as: string }>();
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === "positional") positionals.push(t.value);
    if (t.kind !== "option") continue;
    const name = names.get(t.name);
    if (name === undefined) {
      const hint = t.rawName.startsWith("--")
        ? didYouMean(t.name, names.keys(), (n) => `--${names.get(n)}`)
        : "";
      throw new UserError(`unknown option ${t.rawName}${hint}${usage}`);
    }
    const spec = options[name] as OptionSpec;
    if (name !== t.name) console.error(`juxta: ${t.rawName} is now --${name} (the old name still works)`);
    if (spec.type === "boolean") {
      if (t.inlineValue) throw new UserError(`${t.rawName} takes no value, got '${t.value}'${usage}`);
      given.set(name, { value: true, as: t.rawName });
      continue;
    }
    const label = `${t.rawName} ${argName(spec)}`;
    // parseArgs takes the next word as the value even when it is an option (`--out --json`).
    if (t.value === undefined || (!t.inlineValue && /^-(?!\d|\.\d)/.test(t.value) && t.value !== "-"))
      throw new UserError(
        `${label}: the value is missing${t.value === undefined ? "" : ` (got ${t.value}; write ${t.rawName}=${t.value} if you mean it)`}${usage}`,
      );
    given.set(name, { value: t.value, as: t.rawName });
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options)) {
    const g = given.get(name);
    if (g !== undefined) values[name] = g.value === true ? true : convert(spec, g.value, g.as);
    else if ("default" in spec && spec.default !== undefined) values[name] = spec.default;
    else if (spec.required !== undefined)
      throw new UserError(
        `${optionLabel(name, spec)} is required${typeof spec.required === "string" ? ` (${spec.required})` : ""}`,
      );
  }
  return { values: values as ParsedValues<O>, positionals };
}

/** A given value as its spec types it, or a UserError naming the flag as it was typed. */
function convert(spec: OptionSpec, value: string, as: string): string | number {
  if (spec.type === "choice") {
    if (spec.choices.includes(value)) return value;
    const near = closest(value, spec.choices);
    throw new UserError(
      `${as} expects one of ${spec.choices.join(", ")}, got '${value}'${near ? `; did you mean ${near}?` : ""}`,
    );
  }
  if (spec.type === "number" || spec.type === "integer") return checkNumber(value, as, spec);
  return value;
}

/** `value` as a number within the spec's bounds, or a UserError for flag `as`. */
export function checkNumber(
  value: string,
  as: string,
  spec: { type: "number" | "integer"; min?: number; max?: number },
): number {
  const n = Number(value);
  const integer = spec.type === "integer";
  const ok =
    value.trim() !== "" &&
    Number.isFinite(n) &&
    (!integer || Number.isInteger(n)) &&
    (spec.min === undefined || n >= spec.min) &&
    (spec.max === undefined || n <= spec.max);
  if (ok) return n;
  const what = integer ? "an integer" : "a number";
  const range =
    spec.min !== undefined && spec.max !== undefined
      ? ` in [${spec.min}, ${spec.max}]`
      : spec.min !== undefined
        ? ` ≥ ${spec.min}`
        : spec.max !== undefined
          ? ` ≤ ${spec.max}`
          : "";
  throw new UserError(`${as} expects ${what}${range}, got '${value}'`);
}

/** The kebab-case flag of a camelCase key (`weightDecay` → `weight-decay`). */
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The flag that feeds library option `key` (`weightDecay`, `dataset.imageField`): the option whose spec
 * names that key, else the one whose camelCased name is its last part, else that part in kebab-case.
 */
export function flagFor(options: OptionSpecs, key: string): string {
  const last = key.slice(key.lastIndexOf(".") + 1);
  const entries = Object.entries(options);
  const hit =
    entries.find(([, s]) => s.key === key) ??
    entries.find(([, s]) => s.key === last) ??
    entries.find(([name, s]) => s.key === undefined && camel(name) === last);
  return `--${hit ? hit[0] : kebab(last)}`;
}

/** Run a parsed command; a library OptionError comes back with its option keys spelled as this command's flags. */
export async function runParsed<O extends OptionSpecs>(
  cmd: Command<O>,
  values: ParsedValues<O>,
  positionals: string[],
): Promise<void> {
  try {
    await cmd.run(values, positionals);
  } catch (e) {
    if (e instanceof OptionError)
      throw new UserError(
        e.describe((key) => flagFor(cmd.options, key)),
        { cause: e },
      );
    throw e;
  }
}
