/** A model's identity for work spread over machines: the sha256 of the weights file its folder holds. */
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../util/errors.js";

/** Weights file names, in the order the model folder formats Juxta reads use them. */
const WEIGHTS = ["model.safetensors", "open_clip_model.safetensors"];

export function modelFingerprint(dir: string): string {
  const file = WEIGHTS.map((w) => join(dir, w)).find((p) => existsSync(p));
  if (!file) throw new UserError(`${dir}: no ${WEIGHTS.join(" or ")} to fingerprint`);
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 22);
  const fd = openSync(file, "r");
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}
