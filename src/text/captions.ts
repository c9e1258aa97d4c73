/** Captions to train a tokenizer on: a text file (one caption a line) or JSON lines (one field a line). */
import { inputError } from "../util/errors.js";
import { readText } from "./formats.js";

/** JSON lines when the name ends in .jsonl, .ndjson or .json; plain text otherwise. Blank lines are skipped. */
export function* readCaptions(file: string, field = "text"): Generator<string> {
  const json = /\.(jsonl|ndjson|json)$/i.test(file);
  const lines = readText(file).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, "");
    if (line.trim() === "") continue;
    if (!json) {
      yield line;
      continue;
    }
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw inputError({ file, line: i + 1 }, "expected one JSON object per line");
    }
    const value =
      typeof row === "object" && row !== null ? (row as Record<string, unknown>)[field] : undefined;
    if (typeof value !== "string")
      throw inputError(
        { file, line: i + 1, field },
        `expected a string caption (choose the field with --field)`,
      );
    yield value;
  }
}
