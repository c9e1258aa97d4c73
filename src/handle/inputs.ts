/**
 * What a user may hand the model as an image: a file path, the bytes of an encoded image (a Buffer read
 * from disk or the network), decoded pixels (`{ data, width, height, channels }` as sharp, canvas or
 * transformers.js's RawImage hold them; 1, 3 or 4 channels, alpha dropped), or an `ImageRef` as the data
 * readers make. All become `ImageRef`s that `decodeImage` reads.
 */
import { resolve } from "node:path";
import type { ImageRef } from "../data/types.js";
import { UserError } from "../util/errors.js";

/** Decoded 8-bit pixels, interleaved (HWC). */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

export type ImageInput = string | Uint8Array | RawPixels | ImageRef;

export function toImageRef(input: ImageInput, index = 0): ImageRef {
  if (typeof input === "string") return { kind: "file", path: resolve(input) };
  if (input instanceof Uint8Array) return { kind: "bytes", bytes: input, name: `image ${index + 1} (bytes)` };
  if (input !== null && typeof input === "object") {
    if ("kind" in input) return input;
    if ("data" in input && "width" in input) return rawRef(input, index);
  }
  throw new UserError(
    `image ${index + 1}: expected a file path, a Buffer of an encoded image, or decoded pixels {data, width, height, channels}`,
  );
}

function rawRef(im: RawPixels, index: number): ImageRef {
  const { width, height, channels } = im;
  if (channels !== 1 && channels !== 3 && channels !== 4)
    throw new UserError(`image ${index + 1}: decoded pixels must have 1, 3 or 4 channels, got ${channels}`);
  if (im.data.length !== width * height * channels)
    throw new UserError(
      `image ${index + 1}: ${width}x${height}x${channels} pixels need ${width * height * channels} bytes, got ${im.data.length}`,
    );
  const bytes = new Uint8Array(im.data.buffer, im.data.byteOffset, im.data.length);
  if (channels !== 4) return { kind: "raw", width, height, channels, pixels: bytes };
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < bytes.length; p += 4, q += 3) {
    rgb[q] = bytes[p] as number;
    rgb[q + 1] = bytes[p + 1] as number;
    rgb[q + 2] = bytes[p + 2] as number;
  }
  return { kind: "raw", width, height, channels: 3, pixels: rgb };
}
