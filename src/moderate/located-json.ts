/**
 * Strict JSON (RFC 8259) parsed with the line and column of every value, so that a policy file's errors
 * name where the bad value is ("policy.json:14:20 (concepts[2].threshold): expected a number"), not just
 * that it is bad. JSON.parse reports only a character offset, and only for syntax errors.
 *
 * Paths are written as in the messages: `concepts[2].threshold`, the root is "".
 */
import { UserError } from "../util/errors.js";

export interface SourcePos {
  line: number;
  column: number;
}

export interface LocatedJson {
  value: unknown;
  /** Where the value at a path starts; the nearest enclosing value's position when the path is absent. */
  at(path: string): SourcePos;
}

/** Parse `text`; a syntax error is a UserError naming `file`, line and column. */
export function parseLocatedJson(text: string, file: string): LocatedJson {
  const positions = new Map<string, SourcePos>();
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  // Line starts, to turn an offset into a line and column.
  const starts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === "\n") starts.push(k + 1);
  const posOf = (offset: number): SourcePos => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] as number) + 1 };
  };
  const fail = (message: string, offset = i): never => {
    const p = posOf(offset);
    throw new UserError(`${file}:${p.line}:${p.column}: invalid JSON: ${message}`);
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  };
  const show = (offset: number) =>
    offset >= text.length ? "the end of the file" : `'${text.slice(offset, offset + 1)}'`;

  const string = (): string => {
    const start = i;
    i++; // the opening quote
    let out = "";
    for (;;) {
      if (i >= text.length) fail("unterminated string", start);
      const ch = text[i] as string;
      if (ch === '"') {
        i++;
        return out;
      }
      if (ch < " ") fail("control character in a string (write it as an escape such as \\n)");
      if (ch !== "\\") {
        out += ch;
        i++;
        continue;
      }
      const e = text[i + 1];
      const simple: Record<string, string> = {
        '"': '"',
        "\\": "\\",
        "/": "/",
        b: "\b",
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
      };
      if (e !== undefined && e in simple) {
        out += simple[e];
        i += 2;
      } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else fail(`bad escape '\\${e ?? ""}' in a string`);
    }
  };

  const number = (): number => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail(`unexpected ${show(i)}`);
    i += m[0].length;
    return Number(m[0]);
  };

  const value = (path: string, depth: number): unknown => {
    ws();
    if (depth > 256) fail("nested too deeply");
    positions.set(path, posOf(i));
    const ch = text[i];
    if (ch === "{") {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a field name in double quotes, got ${show(i)}`);
        const keyAt = i;
        const key = string();
        if (Object.hasOwn(obj, key)) fail(`field '${key}' appears twice in one object`, keyAt);
        ws();
        if (text[i] !== ":") fail(`expected ':' after field name '${key}', got ${show(i)}`);
        i++;
        const sub = path === "" ? key : `${path}.${key}`;
        // A field's position is its name's, where a reader looks first.
        const v = value(sub, depth + 1);
        positions.set(sub, posOf(keyAt));
        obj[key] = v;
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return obj;
        }
        fail(`expected ',' or '}' after field '${key}', got ${show(i)}`);
      }
    }
    if (ch === "[") {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(`${path}[${arr.length}]`, depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return arr;
        }
        fail(`expected ',' or ']' in a list, got ${show(i)}`);
      }
    }
    if (ch === '"') return string();
    if (ch === "-" || (ch !== undefined && ch >= "0" && ch <= "9")) return number();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const)
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    return fail(`unexpected ${show(i)}`);
  };

  const root = value("", 0);
  ws();
  if (i < text.length) fail(`unexpected ${show(i)} after the end of the JSON value`);
  const at = (path: string): SourcePos => {
    for (let p = path; ; p = parentPath(p)) {
      const found = positions.get(p);
      if (found) return found;
      if (p === "") return { line: 1, column: 1 };
    }
  };
  return { value: root, at };
}

/** `a.b[2]` → `a.b`, `a.b` → `a`, `a` → "". */
export function parentPath(path: string): string {
  const m = /(\[\d+\]|\.[^.[]+)$/.exec(path);
  return m ? path.slice(0, m.index) : "";
}
