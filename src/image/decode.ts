/**
 * Decoding an ImageRef to 8-bit RGB pixels (height × width × 3, row-major) with sharp: EXIF orientation
 * applied, transparency flattened on white, grayscale/CMYK/16-bit converted to sRGB uint8. Bad inputs come
 * back as a typed failure with a reason ("kind: detail", the SkipLog convention) instead of throwing, so a
 * data set with a few broken files still loads.
 */
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
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

const latin1 = new TextDecoder("latin1");

/**
 * The first reference to something outside the document in an SVG (an href, a CSS url() or @import, an
 * XML external entity), or undefined for an SVG without one and for anything that is not XML. Raster
 * formats never start with "<".
 */
export function svgExternalReference(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // .svgz: librsvg inflates it, so look inside (capped: a gzip bomb is no picture either).
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: 64 << 20 });
    } catch {
      return undefined;
    }
  }
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  while (i < bytes.length && (bytes[i] === 0x20 || (bytes[i]! >= 0x09 && bytes[i]! <= 0x0d))) i++;
  if (bytes[i] !== 0x3c) return undefined;
  const text = latin1.decode(bytes);
  const patterns = [
    /\bhref\s*=\s*["']\s*(?!#|data:)([^"']*)["']/i,
    /url\(\s*["']?\s*(?!#|data:)([^)"']*)/i,
    /@import\s+([^;]*)/i,
    /<!ENTITY\s+(?:%\s+)?[^\s>]+\s+(?:SYSTEM|PUBLIC)\s+("[^"]*"|'[^']*')/i,
  ];
  for (const p of patterns) {
    const m = p.exec(text);
    if (m) return m[1]!.trim().slice(0, 200);
  }
  return undefined;
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
    // Bytes, never a path: given a path, librsvg resolves an SVG's <image href> against it and draws
    // files from the disk into the picture.
    let source: Uint8Array;
    if (ref.kind === "bytes") source = ref.bytes;
    else {
      try {
        source = await readFile(ref.path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return { ok: false, reason: `missing image: ${ref.path}` };
        return { ok: false, reason: `unreadable image: ${ref.path}: ${code ?? (e as Error).message}` };
      }
    }
    const external = svgExternalReference(source);
    if (external !== undefined)
      return {
        ok: false,
        reason: `unsafe image: ${describeRef(ref)} is an SVG that refers to ${JSON.stringify(external)} (external references are refused)`,
      };
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
