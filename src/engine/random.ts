/**
 * Counter-based random numbers: value i of a stream is a hash of (key, i), so any part of any stream can be
 * regenerated without replaying the ones before it (exact resume, order-independent initialization).
 */

/** 32-bit avalanche hash (MurmurHash3's finalizer). */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A stream key from integers and strings (e.g. seed, step, parameter name). */
export function streamKey(...parts: (number | string)[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    if (typeof p === "number") {
      h = mix32(h ^ (p >>> 0));
      h = mix32(h ^ Math.floor(p / 2 ** 32));
    } else {
      for (let i = 0; i < p.length; i++) h = mix32(h ^ p.charCodeAt(i));
    }
  }
  return h;
}

const GOLDEN = 0x9e3779b9;

/** Fill with uniform numbers in [lo, hi). */
export function fillUniform(out: Float32Array | Float64Array, key: number, lo = 0, hi = 1): typeof out {
  const span = hi - lo;
  for (let i = 0; i < out.length; i++) {
    const h = mix32((Math.imul(i, GOLDEN) + key) | 0);
    out[i] = lo + span * (h * 2 ** -32);
  }
  return out;
}

/** Fill with normal numbers N(mean, std²) by Box–Muller on pairs of uniforms. */
export function fillNormal(out: Float32Array | Float64Array, key: number, mean = 0, std = 1): typeof out {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = (mix32((Math.imul(i, GOLDEN) + key) | 0) + 1) * 2 ** -32; // (0, 1]
    const u2 = mix32((Math.imul(i + 1, GOLDEN) + key) | 0) * 2 ** -32;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Normal numbers truncated to [−2σ, 2σ] around the mean (redrawn from a sub-stream), as timm/OpenCLIP init. */
export function fillTruncNormal(out: Float32Array | Float64Array, key: number, std: number): typeof out {
  fillNormal(out, key, 0, std);
  let round = 1;
  let bad = true;
  while (bad && round < 64) {
    bad = false;
    const redraw = new Float64Array(out.length);
    fillNormal(redraw, mix32(key ^ round++), 0, std);
    for (let i = 0; i < out.length; i++) {
      if (Math.abs(out[i] as number) > 2 * std) {
        out[i] = redraw[i] as number;
        if (Math.abs(out[i] as number) > 2 * std) bad = true;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.max(-2 * std, Math.min(2 * std, out[i] as number));
  return out;
}

/** A small sequential generator for shuffles and sampling (splitmix32). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = streamKey(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + GOLDEN) | 0;
    return mix32(this.state) * 2 ** -32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
}
