/**
 * Inline SVG charts for the HTML report: line charts with axes, a heatmap, a scatter plot. Pure string
 * building, no scripts; hover text comes from SVG `<title>` elements.
 */
import { formatNumber } from "../util/progress.js";

/** Tableau-10 plus two: distinguishable categorical colours. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
  "#1f3b73",
  "#8cd17d",
];
/** Colour of the labels past the palette, drawn together as "other". */
export const OTHER_COLOR = "#c8c8c8";

/** Past this many points a series is reduced to each bucket's extremes, which keeps spikes visible. */
const MAX_POINTS = 2000;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Coordinates with at most one decimal: enough for the screen, and keeps big charts small. */
function c(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/**
 * About `count` round tick values (1, 2 or 5 × 10^k apart) covering [min, max]; with `integer`, never
 * closer than 1 apart (steps, counts: no fractional ticks).
 */
export function niceTicks(
  min: number,
  max: number,
  count = 5,
  integer = false,
): { ticks: number[]; lo: number; hi: number } {
  if (!(max > min)) {
    const pad = integer ? 1 : min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  if (integer) step = Math.max(1, Math.round(step));
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  // Multiply rather than accumulate, so tick values don't drift (0.30000000000000004).
  for (let i = 0; lo + i * step <= hi + step * 1e-9; i++) ticks.push(Number((lo + i * step).toPrecision(12)));
  return { ticks, lo, hi };
}

/** Powers of ten covering [min, max] (both > 0), with 2× and 5× between them when few decades are shown. */
export function logTicks(min: number, max: number): { ticks: number[]; lo: number; hi: number } {
  const e0 = Math.floor(Math.log10(min) + 1e-9);
  let e1 = Math.ceil(Math.log10(max) - 1e-9);
  if (e1 <= e0) e1 = e0 + 1;
  const ticks: number[] = [];
  const between = e1 - e0 <= 2 ? [1, 2, 5] : [1];
  for (let e = e0; e <= e1; e++)
    for (const m of between) if (e < e1 || m === 1) ticks.push(Number((m * 10 ** e).toPrecision(12)));
  return { ticks, lo: 10 ** e0, hi: 10 ** e1 };
}

/**
 * Labels for an axis's ticks: the usual short form, or fixed decimals when that form would print two ticks
 * alike (a narrow range such as 14.10-14.30 in steps of 0.05).
 */
export function tickLabels(ticks: readonly number[]): Map<number, string> {
  let labels = ticks.map(formatNumber);
  if (new Set(labels).size < labels.length && ticks.length > 1) {
    const step = Math.abs((ticks[1] as number) - (ticks[0] as number));
    const decimals = Math.min(12, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
    labels = ticks.map((t) => t.toFixed(decimals));
  }
  return new Map(ticks.map((t, i) => [t, labels[i] as string]));
}

/** A percentage label: `35%`, `2.5%`, `0.4%`. */
export function percent(f: number): string {
  const p = 100 * f;
  if (!Number.isFinite(p)) return formatNumber(p);
  return `${Number(p.toFixed(Math.abs(p) >= 10 || Number.isInteger(p) ? 0 : 1))}%`;
}

/**
 * The y range a reader can trust: never narrower than `MIN_RELATIVE_SPAN` of the values' magnitude, so a
 * curve that moved 0.05 % is drawn nearly flat instead of filling the chart.
 */
export const MIN_RELATIVE_SPAN = 0.1;

export function trustedRange(min: number, max: number, includeZero = false): [number, number] {
  if (includeZero) {
    min = Math.min(0, min);
    max = Math.max(0, max);
  }
  const magnitude = Math.max(Math.abs(min), Math.abs(max));
  const need = MIN_RELATIVE_SPAN * magnitude;
  if (max - min < need) {
    const mid = (min + max) / 2;
    let lo = mid - need / 2;
    let hi = mid + need / 2;
    // Don't cross zero for values that are all on one side of it.
    if (min >= 0 && lo < 0) [lo, hi] = [0, hi - lo];
    if (max <= 0 && hi > 0) [lo, hi] = [lo - hi, 0];
    return [lo, hi];
  }
  return [min, max];
}

export interface Series {
  name: string;
  x: readonly number[];
  y: readonly number[];
  /** Stroke colour (default: the palette in series order). */
  color?: string;
  /** `faint`: thin and light, behind the others (raw values under their smoothed curve). */
  faint?: boolean;
}

/** A horizontal reference line (a chance level, a bound) with its label at the right end. */
export interface RefLine {
  y: number;
  label: string;
}

export interface LineChartOptions {
  /** Identifies the chart in the page (`data-chart`). */
  id: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  /** Reference lines; the y range always includes them. */
  refs?: RefLine[];
  /** `log`: a logarithmic y axis (values ≤ 0 are gaps), for quantities spanning decades (grad norm). */
  yScale?: "linear" | "log";
  /** Start the y axis at zero (rates, accuracies, learning rates). */
  includeZero?: boolean;
  /** The x values are integers (steps): ticks are never fractional. */
  integerX?: boolean;
  /** Tick labels of the y axis (default: short numbers). */
  yFormat?: (v: number) => string;
}

/**
 * A line chart: one path per series (points with a non-finite coordinate are gaps), axes with round
 * ticks and light grid lines, axis titles, dashed reference lines. The y range is never narrower than
 * {@link MIN_RELATIVE_SPAN} of the values' size.
 */
export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 280;
  const refs = o.refs ?? [];
  const log = o.yScale === "log";
  const m = { left: 62, right: refs.length ? 96 : 16, top: 12, bottom: 44 };
  const usable = (y: number) => Number.isFinite(y) && (!log || y > 0);
  const series = o.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length]!,
    pts: reduce(finitePairs(s).map(([x, y]): [number, number] => [x, usable(y) ? y : Number.NaN])),
  }));
  const all = series.flatMap((s) => s.pts);
  const xs = all.map((p) => p[0]);
  const ys = [...all.map((p) => p[1]), ...refs.map((r) => r.y)].filter(usable);
  const xt = niceTicks(
    xs.length ? Math.min(...xs) : 0,
    xs.length ? Math.max(...xs) : 1,
    Math.max(2, Math.round(W / 110)),
    o.integerX,
  );
  let yt: { ticks: number[]; lo: number; hi: number };
  if (log) yt = logTicks(ys.length ? Math.min(...ys) : 0.1, ys.length ? Math.max(...ys) : 1);
  else {
    const [lo, hi] = trustedRange(
      ys.length ? Math.min(...ys) : 0,
      ys.length ? Math.max(...ys) : 1,
      o.includeZero,
    );
    yt = niceTicks(lo, hi);
  }
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const fy = (y: number) => (log ? Math.log10(y) : y);
  const sx = (x: number) => m.left + ((x - xt.lo) / (xt.hi - xt.lo)) * pw;
  const sy = (y: number) => m.top + ph - ((fy(y) - fy(yt.lo)) / (fy(yt.hi) - fy(yt.lo))) * ph;
  const out: string[] = [
    `<svg class="chart" data-chart="${escapeHtml(o.id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" ` +
      `role="img" aria-label="${escapeHtml(`${o.yLabel} over ${o.xLabel}`)}" xmlns="http://www.w3.org/2000/svg">`,
  ];
  const yLabels = o.yFormat
    ? new Map(yt.ticks.map((t) => [t, o.yFormat!(t)]))
    : log
      ? new Map(yt.ticks.map((t) => [t, formatNumber(t)]))
      : tickLabels(yt.ticks);
  const xLabels = tickLabels(xt.ticks);
  for (const t of yt.ticks) {
    const y = c(sy(t));
    out.push(`<line class="grid" x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}"/>`);
    out.push(
      `<text class="tick" x="${m.left - 6}" y="${y}" text-anchor="end" dy="0.32em">${yLabels.get(t)}</text>`,
    );
  }
  for (const t of xt.ticks) {
    const x = c(sx(t));
    out.push(`<line class="grid" x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}"/>`);
    out.push(
      `<text class="tick" x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${xLabels.get(t)}</text>`,
    );
  }
  out.push(`<path class="axis" d="M${m.left} ${m.top}V${m.top + ph}H${m.left + pw}"/>`);
  out.push(
    `<text class="axis-title" x="${c(m.left + pw / 2)}" y="${H - 6}" text-anchor="middle">${escapeHtml(o.xLabel)}</text>`,
    `<text class="axis-title" transform="translate(14 ${c(m.top + ph / 2)}) rotate(-90)" text-anchor="middle">` +
      `${escapeHtml(o.yLabel)}</text>`,
  );
  for (const r of refs) {
    const y = c(sy(r.y));
    out.push(
      `<line class="ref" data-ref="${escapeHtml(r.label)}" x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}">` +
        `<title>${escapeHtml(`${r.label}: ${formatNumber(r.y)}`)}</title></line>`,
      `<text class="ref-label" x="${m.left + pw + 4}" y="${y}" dy="0.32em">${escapeHtml(r.label)}</text>`,
    );
  }
  // Faint series first, so the curves they back are drawn over them.
  const order = [...series.filter((s) => s.faint), ...series.filter((s) => !s.faint)];
  for (const s of order) {
    let d = "";
    let pen = false;
    for (const [x, y] of s.pts) {
      if (!Number.isFinite(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${c(sx(x))} ${c(sy(y))}`;
      pen = true;
    }
    out.push(
      `<path class="series${s.faint ? " faint" : ""}" data-series="${escapeHtml(s.name)}" stroke="${s.color}" d="${d}">` +
        `<title>${escapeHtml(s.name)}</title></path>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}

/** Legend for a chart's series or a plot's labels (HTML, so that it wraps). */
export function legend(names: readonly string[], colors: readonly string[] = PALETTE): string {
  const keys = names.map(
    (n, i) =>
      `<span class="key"><i style="background:${colors[i % colors.length]}"></i>${escapeHtml(n)}</span>`,
  );
  return `<div class="legend">${keys.join("")}</div>`;
}

/** Points with a finite x; a non-finite y stays in as a gap marker. */
function finitePairs(s: Series): [number, number][] {
  if (s.x.length !== s.y.length)
    throw new Error(`series '${s.name}': ${s.x.length} x values, ${s.y.length} y`);
  const pts: [number, number][] = [];
  for (let i = 0; i < s.x.length; i++) if (Number.isFinite(s.x[i])) pts.push([s.x[i]!, s.y[i]!]);
  return pts;
}

/** Keeps each bucket's lowest and highest point (in x order), so a long run draws fast without hiding spikes. */
function reduce(pts: [number, number][]): [number, number][] {
  if (pts.length <= MAX_POINTS) return pts;
  const buckets = MAX_POINTS / 2;
  const out: [number, number][] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * pts.length) / buckets);
    const to = Math.floor(((b + 1) * pts.length) / buckets);
    let lo = -1;
    let hi = -1;
    for (let i = from; i < to; i++) {
      const y = pts[i]![1];
      if (!Number.isFinite(y)) continue;
      if (lo < 0 || y < pts[lo]![1]) lo = i;
      if (hi < 0 || y > pts[hi]![1]) hi = i;
    }
    if (lo < 0) out.push(pts[from]!);
    else if (lo === hi) out.push(pts[lo]!);
    else out.push(pts[Math.min(lo, hi)]!, pts[Math.max(lo, hi)]!);
  }
  return out;
}

/** A sequential colour for t in [0, 1]: dark blue → teal → yellow (viridis-like, readable in grey). */
export function heatColor(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(u));
  const f = u - i;
  const rgb = stops[i]!.map((a, k) => Math.round(a + f * (stops[i + 1]![k]! - a)));
  return `rgb(${rgb.join(",")})`;
}

export interface HeatmapOptions {
  matrix: ArrayLike<number>;
  /** The matrix is n×n row-major; only the first `shown` rows and columns are drawn. */
  n: number;
  shown: number;
  rowName: (i: number) => string;
  colName: (j: number) => string;
}

/** An n×n heatmap: one rect per cell whose `<title>` names its row, column and value; a colour scale. */
export function heatmap(o: HeatmapOptions): string {
  const k = o.shown;
  const cell = Math.max(4, Math.min(28, Math.floor(480 / Math.max(1, k))));
  const side = cell * k;
  const m = { left: 40, top: 12, right: 90, bottom: 40 };
  const W = m.left + side + m.right;
  const H = m.top + side + m.bottom;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      const v = o.matrix[i * o.n + j]!;
      if (Number.isFinite(v)) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
  if (!(max > min)) max = min + 1;
  const out: string[] = [
    `<svg class="chart heatmap" data-chart="similarity" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" ` +
      `role="img" aria-label="similarity matrix" xmlns="http://www.w3.org/2000/svg">`,
  ];
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      const v = o.matrix[i * o.n + j]!;
      out.push(
        `<rect class="cell" x="${m.left + j * cell}" y="${m.top + i * cell}" width="${cell}" height="${cell}" ` +
          `fill="${heatColor((v - min) / (max - min))}"><title>${escapeHtml(o.rowName(i))}\n` +
          `${escapeHtml(o.colName(j))}\nsimilarity ${formatNumber(v)}</title></rect>`,
      );
    }
  const every = k <= 24 ? 1 : Math.ceil(k / 12);
  for (let i = 0; i < k; i += every) {
    const mid = c(m.top + (i + 0.5) * cell);
    const midX = c(m.left + (i + 0.5) * cell);
    out.push(`<text class="tick" x="${m.left - 4}" y="${mid}" text-anchor="end" dy="0.32em">${i}</text>`);
    out.push(`<text class="tick" x="${midX}" y="${m.top + side + 14}" text-anchor="middle">${i}</text>`);
  }
  out.push(
    `<text class="axis-title" x="${c(m.left + side / 2)}" y="${H - 6}" text-anchor="middle">text</text>`,
    `<text class="axis-title" transform="translate(12 ${c(m.top + side / 2)}) rotate(-90)" text-anchor="middle">image</text>`,
  );
  // Colour scale: a vertical gradient of stacked bands with the range at its ends.
  const bx = m.left + side + 16;
  const bands = 32;
  for (let b = 0; b < bands; b++) {
    const y = m.top + (side * b) / bands;
    out.push(
      `<rect x="${bx}" y="${c(y)}" width="14" height="${c(side / bands + 0.5)}" fill="${heatColor(1 - b / (bands - 1))}"/>`,
    );
  }
  out.push(
    `<text class="tick" x="${bx + 20}" y="${m.top}" dy="0.8em">${formatNumber(max)}</text>`,
    `<text class="tick" x="${bx + 20}" y="${m.top + side}">${formatNumber(min)}</text>`,
  );
  out.push("</svg>");
  return out.join("\n");
}

export interface ScatterOptions {
  /** n × 2 row-major. */
  xy: ArrayLike<number>;
  /** The colour of each point. */
  colors: readonly string[];
  /** Hover text of each point. */
  titles: readonly string[];
  xLabel: string;
  yLabel: string;
  /** Identifies the plot in the page (`data-chart`, default "embeddings"). */
  id?: string;
  /** Draw tick values (default true); off for maps whose coordinates mean nothing by themselves (t-SNE). */
  ticks?: boolean;
}

/** A scatter plot with equal scales on both axes (distances in the picture mean distances in the data). */
export function scatter(o: ScatterOptions): string {
  const n = o.colors.length;
  const W = 600;
  const H = 480;
  const showTicks = o.ticks ?? true;
  const m = { left: 56, right: 16, top: 12, bottom: 44 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  let x0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, o.xy[2 * i]!);
    x1 = Math.max(x1, o.xy[2 * i]!);
    y0 = Math.min(y0, o.xy[2 * i + 1]!);
    y1 = Math.max(y1, o.xy[2 * i + 1]!);
  }
  if (n === 0) [x0, x1, y0, y1] = [-1, 1, -1, 1];
  const span = Math.max(x1 - x0, y1 - y0, 1e-12) * 1.08;
  const scale = Math.min(pw, ph) / span;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const sx = (x: number) => m.left + pw / 2 + (x - cx) * scale;
  const sy = (y: number) => m.top + ph / 2 - (y - cy) * scale;
  const xt = niceTicks(cx - pw / 2 / scale, cx + pw / 2 / scale, 8);
  const yt = niceTicks(cy - ph / 2 / scale, cy + ph / 2 / scale, 6);
  const out: string[] = [
    `<svg class="chart scatter" data-chart="${escapeHtml(o.id ?? "embeddings")}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" ` +
      `role="img" aria-label="embedding map" xmlns="http://www.w3.org/2000/svg">`,
  ];
  for (const t of showTicks ? xt.ticks : []) {
    if (sx(t) < m.left - 0.5 || sx(t) > m.left + pw + 0.5) continue;
    out.push(`<line class="grid" x1="${c(sx(t))}" x2="${c(sx(t))}" y1="${m.top}" y2="${m.top + ph}"/>`);
    out.push(
      `<text class="tick" x="${c(sx(t))}" y="${m.top + ph + 16}" text-anchor="middle">${formatNumber(t)}</text>`,
    );
  }
  for (const t of showTicks ? yt.ticks : []) {
    if (sy(t) < m.top - 0.5 || sy(t) > m.top + ph + 0.5) continue;
    out.push(`<line class="grid" x1="${m.left}" x2="${m.left + pw}" y1="${c(sy(t))}" y2="${c(sy(t))}"/>`);
    out.push(
      `<text class="tick" x="${m.left - 6}" y="${c(sy(t))}" text-anchor="end" dy="0.32em">${formatNumber(t)}</text>`,
    );
  }
  out.push(`<path class="axis" d="M${m.left} ${m.top}V${m.top + ph}H${m.left + pw}"/>`);
  out.push(
    `<text class="axis-title" x="${c(m.left + pw / 2)}" y="${H - 6}" text-anchor="middle">${escapeHtml(o.xLabel)}</text>`,
    `<text class="axis-title" transform="translate(14 ${c(m.top + ph / 2)}) rotate(-90)" text-anchor="middle">` +
      `${escapeHtml(o.yLabel)}</text>`,
  );
  for (let i = 0; i < n; i++)
    out.push(
      `<circle class="point" cx="${c(sx(o.xy[2 * i]!))}" cy="${c(sy(o.xy[2 * i + 1]!))}" r="3.5" ` +
        `fill="${o.colors[i]}"><title>${escapeHtml(o.titles[i]!)}</title></circle>`,
    );
  out.push("</svg>");
  return out.join("\n");
}
