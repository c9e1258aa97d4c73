/**
 * Field paths into manifest rows: `image`, `file.path`, `captions[0]`, `captions[*].text`. A `[*]` step
 * fans out over a list, so one row can yield several values (one image with five captions → five pairs).
 */
import { UserError } from "../util/errors.js";

export type Step = { key: string } | { index: number } | { all: true };

export interface FieldPath {
  source: string;
  steps: Step[];
  /** Whether a `[*]` step can make the path yield several values. */
  fansOut: boolean;
}

/** One value reached by a path, or why the path stopped short ("missing field: file.path"). */
export type Reached = { ok: true; value: unknown } | { ok: false; reason: string };

export function parseFieldPath(source: string): FieldPath {
  const bad = (why: string) =>
    new UserError(`field path '${source}': ${why} (expected e.g. 'image', 'file.path', 'captions[*].text')`);
  const steps: Step[] = [];
  const re = /([^.[\]]+)|\[(\d+|\*)\]|(\.)/y;
  let dotOk = false;
  let needName = false;
  while (re.lastIndex < source.length) {
    const at = re.lastIndex;
    const m = re.exec(source);
    if (!m) throw bad(`unexpected '${source[at]}' at position ${at + 1}`);
    if (m[1] !== undefined) {
      if (steps.length > 0 && !needName) throw bad(`missing '.' before '${m[1]}'`);
      steps.push({ key: m[1] });
      needName = false;
      dotOk = true;
    } else if (m[2] !== undefined) {
      if (needName) throw bad(`a name must follow '.'`);
      steps.push(m[2] === "*" ? { all: true } : { index: Number(m[2]) });
      dotOk = true;
    } else {
      if (!dotOk) throw bad(`'.' must follow a name or index`);
      needName = true;
      dotOk = false;
    }
  }
  if (steps.length === 0) throw bad("it is empty");
  if (needName) throw bad("it ends with '.'");
  return { source, steps, fansOut: steps.some((s) => "all" in s) };
}

function describe(steps: Step[], n: number): string {
  let s = "";
  for (const step of steps.slice(0, n)) {
    if ("key" in step) s += `${s ? "." : ""}${step.key}`;
    else s += "all" in step ? "[*]" : `[${step.index}]`;
  }
  return s;
}

/** Follow a path through parsed JSON; a fan-out over an empty list reaches nothing (an empty array). */
export function followPath(value: unknown, path: FieldPath): Reached[] {
  const out: Reached[] = [];
  const walk = (v: unknown, i: number): void => {
    if (i === path.steps.length) {
      out.push({ ok: true, value: v });
      return;
    }
    const step = path.steps[i]!;
    const here = describe(path.steps, i + 1);
    if ("key" in step) {
      const isObject = typeof v === "object" && v !== null && !Array.isArray(v);
      if (!isObject || !Object.hasOwn(v, step.key) || (v as Record<string, unknown>)[step.key] === null)
        out.push({ ok: false, reason: `missing field: ${here}` });
      else walk((v as Record<string, unknown>)[step.key], i + 1);
    } else if (!Array.isArray(v)) {
      out.push({ ok: false, reason: `wrong type: ${describe(path.steps, i)} is not a list` });
    } else if ("all" in step) {
      for (const item of v) walk(item, i + 1);
    } else if (step.index >= v.length || v[step.index] === null) {
      out.push({ ok: false, reason: `missing field: ${here}` });
    } else {
      walk(v[step.index], i + 1);
    }
  };
  walk(value, 0);
  return out;
}
