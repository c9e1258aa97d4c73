/**
 * A progress line for long work (training, embedding a folder): bar, count, percentage, caller fields,
 * smoothed rate and ETA. On a terminal it redraws in place at most 10 times a second; in a log file
 * (not a TTY) it prints a plain line every few seconds instead.
 */

/** Where the progress line goes: `process.stderr` or anything with `write` (tests pass a fake). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  label: string;
  /** Units of work in all; without it there is no bar, percentage or ETA. */
  total?: number;
  stream?: ProgressStream;
  /** Name of what the rate counts, shown as `<unit>/s`. Default "it". */
  unit?: string;
  /** Units per tick (e.g. pairs per step with `unit: "pairs"`); the rate shown is ticks/s × this. */
  perTick?: number;
  /** Bar width in characters. Default 20. */
  width?: number;
  /** Not a TTY: seconds between plain lines. Default 10. */
  logEvery?: number;
  /** Milliseconds clock, for tests. Default `performance.now`. */
  now?: () => number;
  /** How the count and total are shown (e.g. bytes as "12.3 MB"). Default: as numbers. */
  formatCount?: (n: number) => string;
}

/** Seconds over which the rate forgets: short enough to follow a change, long enough to be steady. */
const RATE_WINDOW_S = 10;
const REDRAW_MS = 100;

export class Progress {
  readonly label: string;
  total: number | undefined;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly unit: string;
  private readonly perTick: number;
  private readonly width: number;
  private readonly logEveryMs: number;
  private readonly now: () => number;
  private readonly formatCount: (n: number) => string;
  private start: number;
  /** When pause() stopped the clock (undefined while running). */
  private pausedAt: number | undefined;
  private count = 0;
  private fields: Record<string, string | number> = {};
  private rate: number | undefined;
  /** Ticks not yet folded into the rate, and when the last fold happened. */
  private pending = 0;
  private lastRateAt: number;
  private lastDrawAt = Number.NEGATIVE_INFINITY;
  /** Whether a TTY line is on screen and must be cleared before other output. */
  private drawn = false;
  private finished = false;

  constructor(opts: ProgressOptions) {
    this.label = opts.label;
    this.total = opts.total;
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.unit = opts.unit ?? "it";
    this.perTick = opts.perTick ?? 1;
    this.width = opts.width ?? 20;
    this.logEveryMs = (opts.logEvery ?? 10) * 1000;
    this.now = opts.now ?? (() => performance.now());
    this.formatCount = opts.formatCount ?? String;
    this.start = this.now();
    this.lastRateAt = this.start;
  }

  /** Change the amount of work in all (e.g. once a time budget's steps are known). */
  setTotal(total: number): void {
    this.total = total;
  }

  /**
   * Stops the clock until `resume()`: time spent on other work (an evaluation between training steps)
   * then counts neither in the rate nor in the final time.
   */
  pause(): void {
    this.pausedAt ??= this.now();
  }

  resume(): void {
    if (this.pausedAt === undefined) return;
    const paused = this.now() - this.pausedAt;
    this.start += paused;
    this.lastRateAt += paused;
    this.pausedAt = undefined;
  }

  /** Records `n` more units done and the latest `fields` (e.g. `{ loss: 2.31, lr: 4e-4 }`); may redraw. */
  tick(n = 1, fields?: Record<string, string | number>): void {
    if (this.finished) return;
    this.count += n;
    if (fields) this.fields = fields;
    const t = this.now();
    this.pending += n;
    const dt = (t - this.lastRateAt) / 1000;
    // Fold ticks in only over a measurable interval, so bursts of ticks in one millisecond don't spike it.
    if (dt >= 0.05) {
      const inst = this.pending / dt;
      this.rate =
        this.rate === undefined ? inst : this.rate + (1 - Math.exp(-dt / RATE_WINDOW_S)) * (inst - this.rate);
      this.pending = 0;
      this.lastRateAt = t;
    }
    if (t - this.lastDrawAt >= (this.tty ? REDRAW_MS : this.logEveryMs)) this.draw(t);
  }

  /** Prints a message above the progress line (which is redrawn after it on a terminal). */
  log(message: string): void {
    if (this.drawn) this.stream.write("\r\x1b[K");
    this.stream.write(`${message}\n`);
    this.drawn = false;
    if (this.tty && !this.finished) this.draw(this.now());
  }

  /** Draws the final line (with `fields` if given) and ends it; later ticks are ignored. */
  done(fields?: Record<string, string | number>): void {
    if (this.finished) return;
    if (fields) this.fields = fields;
    this.draw(this.now(), true);
    this.stream.write("\n");
    this.drawn = false;
    this.finished = true;
  }

  /** The line as it would be drawn now (without terminal control codes). */
  render(final = false): string {
    return this.line(this.now(), final);
  }

  private draw(t: number, final = false): void {
    this.lastDrawAt = t;
    let text = this.line(t, final);
    if (this.tty) {
      const cols = this.stream.columns;
      if (cols && text.length >= cols) text = text.slice(0, cols - 1);
      this.stream.write(`\r${text}\x1b[K`);
      this.drawn = true;
    } else {
      this.stream.write(final ? text : `${text}\n`);
    }
  }

  private line(t: number, final: boolean): string {
    const parts = [`${this.label} `];
    const total = this.total;
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, Math.max(0, this.count / total));
      const filled = Math.round(frac * this.width);
      parts.push(`[${"#".repeat(filled)}${".".repeat(this.width - filled)}]`);
      parts.push(`${this.formatCount(this.count)}/${this.formatCount(total)}`, `${Math.floor(frac * 100)}%`);
    } else {
      parts.push(this.formatCount(this.count));
    }
    for (const [k, v] of Object.entries(this.fields))
      parts.push(k, typeof v === "number" ? formatNumber(v) : v);
    const elapsed = (t - this.start) / 1000;
    const rate = final ? (elapsed > 0 ? this.count / elapsed : undefined) : this.rate;
    if (rate !== undefined) parts.push(`${this.unit}/s`, formatNumber(rate * this.perTick));
    if (final) parts.push("in", formatDuration(elapsed));
    else if (total !== undefined && rate !== undefined && rate > 0)
      parts.push("ETA", formatDuration(Math.max(0, total - this.count) / rate));
    return parts.join(" ");
  }
}

/** Seconds as `0.4s`, `14s`, `1m40s`, `2h05m`, `3d04h`; `?` when not finite. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 9.95) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const pad = (x: number) => String(x).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  const m = Math.round(s / 60);
  if (m < 24 * 60) return `${Math.floor(m / 60)}h${pad(m % 60)}m`;
  const h = Math.round(m / 60);
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`;
}

/**
 * A number in a few characters: integers as they are, otherwise three significant digits
 * (`2.31`, `14.2`, `0.0312`), with an exponent below 0.01 (`4.0e-4`) and rounded from 1000 up.
 */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  if (a < 0.01) return x.toExponential(1);
  if (a < 1000) return String(Number(x.toPrecision(3)));
  if (a < 1e15) return String(Math.round(x));
  return x.toExponential(2);
}
