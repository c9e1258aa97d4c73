/** The shape of a CLI command: its options (node:util parseArgs format), help text and action. */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UserError } from "../util/errors.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Command<O extends Options = Options> {
  name: string;
  summary: string;
  usage: string;
  options: O;
  /** Extra help lines (examples). */
  help?: string;
  run(values: ParsedValues<O>, positionals: string[]): Promise<void>;
}

type Value<T> = T extends { type: "boolean"; multiple: true }
  ? boolean[]
  : T extends { type: "boolean" }
    ? boolean
    : T extends { type: "string"; multiple: true }
      ? string[]
      : string;

export type ParsedValues<O extends Options> = { [K in keyof O]?: Value<O[K]> };

export function defineCommand<O extends Options>(c: Command<O>): Command<O> {
  return c;
}

/** Parse argv for a command; unknown flags and missing values are UserErrors with the usage line. */
export function parseCommand<O extends Options>(
  cmd: Command<O>,
  argv: string[],
): { values: ParsedValues<O>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: cmd.options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedValues<O>, positionals };
  } catch (e) {
    throw new UserError(`${(e as Error).message}\nusage: ${cmd.usage}`);
  }
}

/** A numeric flag: parsed, checked, or the default. */
export function numberFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  opts: { integer?: boolean; min?: number } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const bad =
    !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min);
  if (bad) {
    const what = opts.integer ? "an integer" : "a number";
    throw new UserError(
      `--${name} expects ${what}${opts.min !== undefined ? ` ≥ ${opts.min}` : ""}, got '${value}'`,
    );
  }
  return n;
}
