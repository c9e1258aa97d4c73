/**
 * `juxta data check`'s image pass: every distinct image of a data set decoded the way training decodes it
 * (same decoder, same pixel limit), so the report names exactly the rows training would skip.
 */
import { DEFAULT_MAX_PIXELS, decodeImage } from "../image/decode.js";
import type { ImageRef, Sample, SkipLog } from "./types.js";

/** A decode of this size or smaller shows all that training's would (the full image is read either way). */
const CHECK_SIDE = 32;

/** The samples whose image decodes; the others are added to `log` with their origin and reason. */
export async function decodeCheck(
  samples: readonly Sample[],
  log: SkipLog,
  opts: { maxPixels?: number; concurrency?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Sample[]> {
  // One decode per file, however many captions name it.
  const key = (ref: ImageRef) => (ref.kind === "file" ? ref.path : undefined);
  const byKey = new Map<string, Promise<string | undefined>>();
  const reasons: (string | undefined)[] = new Array(samples.length);
  let next = 0;
  let done = 0;
  const decode = async (ref: ImageRef) => {
    const r = await decodeImage(ref, {
      maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
      shortestSide: CHECK_SIDE,
    });
    return r.ok ? undefined : r.reason;
  };
  const lane = async (): Promise<void> => {
    while (next < samples.length) {
      const i = next++;
      const ref = samples[i]!.image;
      const k = key(ref);
      let p = k === undefined ? undefined : byKey.get(k);
      if (!p) {
        p = decode(ref);
        if (k !== undefined) byKey.set(k, p);
      }
      reasons[i] = await p;
      opts.onProgress?.(++done, samples.length);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, samples.length)) }, lane),
  );
  const kept: Sample[] = [];
  for (const [i, s] of samples.entries()) {
    const reason = reasons[i];
    if (reason === undefined) kept.push(s);
    else log.add(s.origin, reason);
  }
  return kept;
}
