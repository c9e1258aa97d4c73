/** Every training method, by name: the records the loop runs and the CLI reads its defaults from. */
import { UserError } from "../../util/errors.js";
import { clip } from "./clip.js";
import type { ImageMethodName, Method, MethodName, PairMethodName } from "./method.js";
import { moco } from "./moco.js";
import { siglip } from "./siglip.js";
import { simclr } from "./simclr.js";
import { supcon } from "./supcon.js";
import { triplet } from "./triplet.js";

export type * from "./method.js";
export { MOCO_FILE } from "./moco.js";

export const METHODS = { clip, siglip, simclr, moco, supcon, triplet } as const;

export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];
export const PAIR_METHODS = METHOD_NAMES.filter((m) => METHODS[m].family === "pairs") as PairMethodName[];
export const IMAGE_METHODS = METHOD_NAMES.filter((m) => METHODS[m].family === "images") as ImageMethodName[];

/** The record for `name`; an unknown name is a UserError listing the methods. */
export function methodRecord(name: string): Method {
  const m = (METHODS as Record<string, Method>)[name];
  if (!m) throw new UserError(`method must be one of ${METHOD_NAMES.join(", ")}, got '${name}'`);
  return m;
}
