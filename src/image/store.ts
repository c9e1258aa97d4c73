/**
 * PixelStore: every image of a data set decoded once, downsized so its shortest side is (at most) a cache
 * side, and packed into one SharedArrayBuffer. Worker threads receive the buffer by reference (no copy) and
 * augment straight from it, so an epoch never touches the image files again.
 */
import type { Sample, SkipLog } from "../data/types.js";
import { type DecodeOptions, decodeImage, type RgbImage } from "./decode.js";

/** What a worker needs to rebuild a PixelStore view: postMessage shares the buffer, copies the small arrays. */
export interface PixelStoreData {
  buffer: SharedArrayBuffer;
  /** Byte offset of image i in buffer (float64: stores may exceed 2 GiB). */
  offsets: Float64Array;
  widths: Uint32Array;
  heights: Uint32Array;
}

export class PixelStore {
  private constructor(private readonly d: PixelStoreData) {}

  /** Pack decoded images (copied once into shared memory). */
  static fromImages(images: readonly RgbImage[]): PixelStore {
    const n = images.length;
    const offsets = new Float64Array(n);
    const widths = new Uint32Array(n);
    const heights = new Uint32Array(n);
    let total = 0;
    images.forEach((im, i) => {
      if (im.data.length !== im.width * im.height * 3)
        throw new Error(`image ${i}: pixel count does not match size`);
      offsets[i] = total;
      widths[i] = im.width;
      heights[i] = im.height;
      total += im.data.length;
    });
    const buffer = new SharedArrayBuffer(total);
    const bytes = new Uint8Array(buffer);
    images.forEach((im, i) => {
      bytes.set(im.data, offsets[i]);
    });
    return new PixelStore({ buffer, offsets, widths, heights });
  }

  /** Rebuild from data received in a worker. */
  static fromData(d: PixelStoreData): PixelStore {
    return new PixelStore(d);
  }

  get length(): number {
    return this.d.offsets.length;
  }

  get byteLength(): number {
    return this.d.buffer.byteLength;
  }

  /** Image i as a view into shared memory (do not write to it). */
  get(i: number): RgbImage {
    const width = this.d.widths[i];
    const height = this.d.heights[i];
    if (width === undefined || height === undefined)
      throw new Error(`image ${i} is outside the store (${this.length})`);
    const data = new Uint8Array(this.d.buffer, this.d.offsets[i], width * height * 3);
    return { width, height, data };
  }

  data(): PixelStoreData {
    return this.d;
  }
}

export interface BuildStoreOptions {
  /** Shortest side of the cached images (e.g. 1.25 × the training size), keeping aspect. */
  cacheSide: number;
  maxPixels?: DecodeOptions["maxPixels"];
  /** Images decoded at the same time; sharp works off the main thread, a few keep its pool busy. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** Where unreadable images are recorded (a strict log throws on the first). */
  skips?: SkipLog;
}

/**
 * Decode every sample's image into a PixelStore. Samples whose image fails are left out (and logged);
 * `samples` holds the kept ones in their original order, sample i matching store image i.
 */
export async function buildPixelStore(
  samples: readonly Sample[],
  opts: BuildStoreOptions,
): Promise<{ store: PixelStore; samples: Sample[] }> {
  const results: (RgbImage | undefined)[] = new Array(samples.length);
  let next = 0;
  let done = 0;
  let failed = false; // a strict skip log threw: stop the other lanes too
  const decodeOpts: DecodeOptions = { shortestSide: opts.cacheSide, maxPixels: opts.maxPixels };
  const worker = async (): Promise<void> => {
    while (next < samples.length && !failed) {
      const i = next++;
      const s = samples[i] as Sample;
      const r = await decodeImage(s.image, decodeOpts);
      if (r.ok) results[i] = r.image;
      else {
        try {
          opts.skips?.add(s.origin, r.reason);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
      opts.onProgress?.(++done, samples.length);
    }
  };
  const lanes = Math.max(1, Math.min(opts.concurrency ?? 4, samples.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  const kept: Sample[] = [];
  const images: RgbImage[] = [];
  results.forEach((im, i) => {
    if (im) {
      images.push(im);
      kept.push(samples[i] as Sample);
    }
  });
  return { store: PixelStore.fromImages(images), samples: kept };
}
