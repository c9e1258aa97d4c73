/** Timing helpers for benchmarks: medians of repeated runs, measured with the monotonic clock. */
import { readFileSync } from "node:fs";
export async function timeRuns(
  fn: () => Promise<unknown> | unknown,
  opts: { warmup?: number; runs?: number } = {},
): Promise<number[]> {
  for (let i = 0; i < (opts.warmup ?? 2); i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < (opts.runs ?? 7); i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The p-quantile of `xs` (0 ≤ p ≤ 1) as the sample at rank ⌊p·n⌋ (nearest rank, no interpolation), rounded to 0.01. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor(p * s.length))] as number, 2);
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Peak resident set size of this process so far, in MB (Linux: VmHWM). */
export function peakRssMb(): number {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch {}
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}
