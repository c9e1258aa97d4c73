/**
 * Errors caused by the user's input (a bad file, a wrong flag, a shape mismatch in model code).
 * The CLI prints their message without a stack trace; everything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  override name = "UserError";
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
