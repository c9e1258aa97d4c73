/**
 * What every data source produces: samples that point at an image (not yet decoded) with an optional
 * caption and label, and a log of what was skipped and why.
 */
import { formatLocation, inputError, type Location } from "../util/errors.js";

/** Where a sample's image comes from; decoding happens later, once, in the image pipeline. */
export type ImageRef =
  | { kind: "file"; path: string }
  | { kind: "bytes"; bytes: Uint8Array; name: string }
  | { kind: "raw"; width: number; height: number; channels: 1 | 3; pixels: Uint8Array };

export interface Sample {
  image: ImageRef;
  /** The caption (the first of `captions` when there are several). */
  text?: string;
  /**
   * Several captions of this one image (a manifest row whose text field holds a list): training draws one
   * per epoch by (seed, epoch, index), see sampleCaption; everything else uses `text`.
   */
  captions?: string[];
  label?: string;
  /** Where the sample was read from (file and line), for error messages. */
  origin: Location;
}

export interface Skip {
  origin: Location;
  reason: string;
}

/**
 * Skipped inputs: counted per reason, the first few kept with their location. In strict mode the first
 * skip is fatal instead (a UserError naming file, line and reason).
 */
export class SkipLog {
  readonly byReason = new Map<string, number>();
  readonly examples: Skip[] = [];
  total = 0;

  constructor(
    readonly strict = false,
    readonly keep = 5,
  ) {}

  add(origin: Location, reason: string): void {
    if (this.strict) throw inputError(origin, `${reason} (--strict makes bad input fatal)`);
    this.total++;
    const kind = reason.split(":")[0] ?? reason;
    this.byReason.set(kind, (this.byReason.get(kind) ?? 0) + 1);
    if (this.examples.length < this.keep) this.examples.push({ origin, reason });
  }

  merge(other: SkipLog): void {
    for (const s of other.examples) if (this.examples.length < this.keep) this.examples.push(s);
    for (const [k, n] of other.byReason) this.byReason.set(k, (this.byReason.get(k) ?? 0) + n);
    this.total += other.total;
  }

  /** A few lines for the terminal: "skipped 3 inputs (missing image: 2, empty caption: 1)" and examples. */
  summary(): string {
    if (this.total === 0) return "";
    const kinds = [...this.byReason].map(([k, n]) => `${k}: ${n}`).join(", ");
    const lines = [`skipped ${this.total} input${this.total === 1 ? "" : "s"} (${kinds})`];
    for (const s of this.examples) lines.push(`  ${formatLocation(s.origin)}: ${s.reason}`);
    if (this.total > this.examples.length) lines.push(`  … and ${this.total - this.examples.length} more`);
    return lines.join("\n");
  }
}
