/**
 * Long text comes from a file or stdin, never from the command line: onnxruntime-node 1.30 crashes
 * (segfault, exit 139) at session creation when a process's arguments total about 28,950 characters or
 * more, so such a command line is refused before any model is opened, with the way round it.
 */
import { readFileSync } from "node:fs";
import { UserError } from "../util/errors.js";
import { isSystemError, systemErrorReason } from "../util/fs.js";

/** Refuse command lines at or above this many characters (all arguments, the program's included). */
export const ARGV_LIMIT = 28_000;
/** The most text a --query-file (or stdin) may hold: far more than any tokenizer keeps (77 tokens). */
export const MAX_QUERY_BYTES = 1 << 20;

export function checkArgvLength(argv: readonly string[]): void {
  const total = argv.reduce((n, a) => n + a.length + 1, 0);
  if (total >= ARGV_LIMIT)
    throw new UserError(
      `the command line holds ${total} characters, more than the ${ARGV_LIMIT} onnxruntime-node survives ` +
        "(it crashes at about 28,950); pass long text with --query-file FILE, or --query-file - to read stdin",
    );
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The text of `path` ("-": stdin), trimmed; one-line UserErrors for a missing, huge or non-UTF-8 file. */
export function readQueryText(path: string): string {
  const name = path === "-" ? "stdin" : path;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path === "-" ? 0 : path);
  } catch (e) {
    if (isSystemError(e)) throw new UserError(`cannot read ${name}: ${systemErrorReason(e)}`);
    throw e;
  }
  if (bytes.length > MAX_QUERY_BYTES)
    throw new UserError(
      `${name}: ${bytes.length} bytes of query text, more than the limit of ${MAX_QUERY_BYTES}`,
    );
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new UserError(`${name}: the query text is not valid UTF-8`);
  }
  return text.trim();
}
