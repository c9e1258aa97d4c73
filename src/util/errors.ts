/**
 * Errors caused by the user's input (a bad file, a wrong flag, a shape mismatch in model code).
 * The CLI prints their message without a stack trace; everything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  override name = "UserError";
}

/**
 * A JSON.parse error's message on one line: V8 quotes the text around the error, newlines and all, and a
 * user error is one line.
 */
export function jsonErrorMessage(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ");
}

/** Where a problem is: `file:line (field)`, each part optional. */
export interface Location {
  file?: string;
  line?: number;
  field?: string;
}

export function formatLocation(loc: Location): string {
  let s = loc.file ?? "";
  if (loc.line !== undefined) s += `${s ? ":" : "line "}${loc.line}`;
  if (loc.field !== undefined) s += `${s ? " " : ""}(field '${loc.field}')`;
  return s;
}

/** A UserError that names where the bad input is: "data.jsonl:12 (field 'image'): expected a string". */
export function inputError(loc: Location, message: string): UserError {
  const at = formatLocation(loc);
  return new UserError(at ? `${at}: ${message}` : message);
}

/**
 * A UserError about API options, in the library's own words: `{key}` in the text names an option
 * (`{weightDecay}`, `{dataset.imageField}`), shown as the key itself. A front end respells the keys in its
 * own terms with `describe` (the CLI shows `--weight-decay`), so neither layer speaks the other's names.
 *
 * @example
 * throw new OptionError("{resume}: {batch} 16 differs from the run's 8; a resumed run keeps its settings");
 * // message: "resume: batch 16 differs from the run's 8; …"; the CLI prints "--resume: --batch 16 differs …"
 */
export class OptionError extends UserError {
  override name = "OptionError";
  /** The option keys the text names, in order of appearance. */
  readonly options: string[];

  constructor(readonly template: string) {
    super(spellOptions(template, (key) => key));
    this.options = [...template.matchAll(OPTION_REF)].map((m) => m[1] as string);
  }

  /** The message with each option key spelled by `name`. */
  describe(name: (key: string) => string): string {
    return spellOptions(this.template, name);
  }
}

const OPTION_REF = /\{([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\}/g;

function spellOptions(template: string, name: (key: string) => string): string {
  return template.replace(OPTION_REF, (_, key: string) => name(key));
}
