/**
 * Decoding an ImageRef to 8-bit RGB pixels (height × width × 3, row-major) with sharp: EXIF orientation
 * applied, transparency flattened on white, grayscale/CMYK/16-bit converted to sRGB uint8. Bad inputs come
 * back as a typed failure with a reason ("kind: detail", the SkipLog convention) instead of throwing, so a
 * data set with a few broken files still loads.
 */
import sharp, { type Sharp } from "sharp";
import type { ImageRef } from "../data/types.js";

/** 8-bit RGB image, pixels interleaved (HWC). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type DecodeResult = { ok: true; image: RgbImage } | { ok: false; reason: string };

/** Refuse images above 50 megapixels: a tiny compressed file can claim a huge canvas (decompression bomb). */
export const DEFAULT_MAX_PIXELS = 50_000_000;

export interface DecodeOptions {
  /** Largest accepted width × height of the stored image; default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  /** Resize (keeping aspect) so that the shortest side is at most this; smaller images are kept as they are. */
  shortestSide?: number;
}

/** Where an ImageRef comes from, for messages. */
export function describeRef(ref: ImageRef): string {
  if (ref.kind === "file") return ref.path;
  if (ref.kind === "bytes") return ref.name;
  return `raw ${ref.width}x${ref.height}x${ref.channels}`;
}

export async function decodeImage(ref: ImageRef, opts: DecodeOptions = {}): Promise<DecodeResult> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const tooLarge = `image too large: ${describeRef(ref)} has more than the limit of ${maxPixels} pixels`;
  let input: Sharp;
  if (ref.kind === "raw") {
    const { width, height, channels, pixels } = ref;
    if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) {
      return { ok: false, reason: `unreadable image: raw size ${width}x${height} is not positive integers` };
    }
    if (pixels.length !== width * height * channels) {
      return {
        ok: false,
        reason: `unreadable image: raw ${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${pixels.length}`,
      };
    }
    if (width * height > maxPixels) return { ok: false, reason: tooLarge };
    input = sharp(pixels, { raw: { width, height, channels }, limitInputPixels: maxPixels });
  } else {
    const source = ref.kind === "file" ? ref.path : ref.bytes;
    input = sharp(source, { limitInputPixels: maxPixels, autoOrient: true });
  }
  let pipeline = input.flatten({ background: "#ffffff" }).toColourspace("srgb");
  if (opts.shortestSide !== undefined) {
    const s = opts.shortestSide;
    // Both sides at least s, as small as possible: the shortest side becomes s (never enlarged).
    pipeline = pipeline.resize({
      width: s,
      height: s,
      fit: "outside",
      withoutEnlargement: true,
      kernel: "cubic",
    });
  }
  try {
    const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3)
      return { ok: false, reason: `unreadable image: ${info.channels} channels after conversion` };
    return {
      ok: true,
      image: {
        width: info.width,
        height: info.height,
        data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      },
    };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/pixel limit/i.test(msg)) return { ok: false, reason: tooLarge };
    if (/file is missing/i.test(msg)) return { ok: false, reason: `missing image: ${describeRef(ref)}` };
    return { ok: false, reason: `unreadable image: ${describeRef(ref)}: ${msg}` };
  }
}
