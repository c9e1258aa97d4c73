/**
 * A model's identity: the sha256 of the weights file its folder holds. Work spread over machines checks
 * that every worker has the same model, and an index that its queries are embedded by the model that
 * embedded its images.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";

/** Weights file names, in the order the model folder formats Juxta reads use them. */
const WEIGHTS = ["model.safetensors", "open_clip_model.safetensors"];

/** The weights file of a model folder. */
export function weightsFile(dir: string): string {
  const file = WEIGHTS.map((w) => join(dir, w)).find((p) => existsSync(p));
  if (!file) throw new UserError(`${dir}: no ${WEIGHTS.join(" or ")} to fingerprint`);
  return file;
}

export function modelFingerprint(dir: string): string {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 22);
  const fd = openSync(weightsFile(dir), "r");
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** A fingerprint with the file's size and modification time, which let a later check skip the hash. */
export interface WeightsFingerprint {
  sha256: string;
  size: number;
  mtimeMs: number;
}

export function weightsFingerprint(dir: string): WeightsFingerprint {
  const st = statSync(weightsFile(dir));
  return { sha256: modelFingerprint(dir), size: st.size, mtimeMs: st.mtimeMs };
}

/**
 * Whether `dir`'s weights are the ones `fp` records: an unchanged file (same size and modification time)
 * is taken as is; anything else, another copy included, is hashed.
 */
export function sameWeights(dir: string, fp: WeightsFingerprint): boolean {
  const st = statSync(weightsFile(dir));
  if (st.size !== fp.size) return false;
  if (st.mtimeMs === fp.mtimeMs) return true;
  return modelFingerprint(dir) === fp.sha256;
}
