/**
 * A streamed batch's images decoded and augmented in one go (in a loader worker, or on the main thread in
 * synchronous mode): each image decoded as the pixel cache would hold it (shortest side at most the cache
 * side), then augmented with its position's key. An image that does not decode is replaced by the next one
 * of the batch that did, so the batch keeps its shape and every later position its place (exact resumes).
 */
import { augmentImages, type BatchSpec } from "../image/batch.js";
import { type DecodeOptions, decodeImage, type RgbImage } from "../image/decode.js";
import type { ImageRef } from "./types.js";

export interface DecodeSpec {
  /** Shortest side of the decoded images (the pixel cache's side: 1.25 × the training size). */
  cacheSide: number;
  maxPixels?: number;
}

/** A sample whose image failed: its place in the batch, the place whose image stands in, and why. */
export interface Replacement {
  at: number;
  by: number;
  reason: string;
}

export interface DecodedBatch {
  /** The augmented views; empty when no image of the batch decoded. */
  pixels: Float32Array;
  replaced: Replacement[];
}

/** Images decoded at once per batch: sharp decodes off the JavaScript thread, a few keep its pool busy. */
const LANES = 4;

export async function decodeBatch(
  images: readonly ImageRef[],
  keys: readonly number[],
  spec: BatchSpec,
  epoch: number,
  decode: DecodeSpec,
): Promise<DecodedBatch> {
  const opts: DecodeOptions = { shortestSide: decode.cacheSide, maxPixels: decode.maxPixels };
  const decoded: (RgbImage | undefined)[] = new Array(images.length);
  const reasons: string[] = new Array(images.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < images.length) {
      const k = next++;
      const r = await decodeImage(images[k] as ImageRef, opts);
      if (r.ok) decoded[k] = r.image;
      else reasons[k] = r.reason;
    }
  };
  await Promise.all(Array.from({ length: Math.min(LANES, images.length) }, lane));
  const replaced: Replacement[] = [];
  const source: number[] = [];
  for (let k = 0; k < images.length; k++) {
    let by = k;
    while (decoded[by] === undefined && (by = (by + 1) % images.length) !== k);
    if (decoded[by] === undefined) return { pixels: new Float32Array(0), replaced: [] };
    if (by !== k) replaced.push({ at: k, by, reason: reasons[k] as string });
    source.push(by);
  }
  const pixels = augmentImages((k) => decoded[source[k] as number] as RgbImage, keys, spec, epoch);
  return { pixels, replaced };
}
