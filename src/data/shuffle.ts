/**
 * Shuffling a stream in bounded memory, as webdataset does: shards in a seeded order, then a buffer of
 * `size` samples from which each next sample is drawn at random and refilled from the stream. The order is
 * a function of (seed, epoch) alone, so a run can resume mid-epoch by replaying the stream up to its
 * position: only the position is saved, never the buffer (the replay reads but does not decode).
 *
 *   for await (const s of shuffleStream(streamWebDataset(shardOrder(shards, 3, epoch), opts, log),
 *     { size: 1000, seed: 3, epoch, skip: position })) …
 */
import { Rng, streamKey } from "../engine/random.js";

/** The shards in the epoch's seeded order. */
export function shardOrder<T>(shards: readonly T[], seed: number, epoch: number): T[] {
  return new Rng(streamKey(seed, "shards", epoch)).shuffle([...shards]);
}

export interface ShuffleOptions {
  /** Samples held at once (default 1000); 1 keeps the stream's order. */
  size?: number;
  seed: number;
  epoch: number;
  /** Drop the first `skip` samples of the shuffled order (a resume's position in the epoch). */
  skip?: number;
}

/** The stream's items in a seeded order drawn through a buffer of `size`. */
export async function* shuffleStream<T>(source: AsyncIterable<T>, opts: ShuffleOptions): AsyncGenerator<T> {
  const size = Math.max(1, opts.size ?? 1000);
  const rng = new Rng(streamKey(opts.seed, "shuffle-buffer", opts.epoch));
  let skip = opts.skip ?? 0;
  const buffer: T[] = [];
  for await (const item of source) {
    if (buffer.length < size) {
      buffer.push(item);
      continue;
    }
    const j = rng.int(size);
    const out = buffer[j] as T;
    buffer[j] = item;
    if (skip > 0) skip--;
    else yield out;
  }
  rng.shuffle(buffer);
  for (const item of buffer) {
    if (skip > 0) skip--;
    else yield item;
  }
}
