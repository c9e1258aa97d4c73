/**
 * Renders a training report as ONE self-contained HTML file: inline CSS and SVG, images as data: URIs,
 * no scripts and nothing fetched, so it can be mailed, archived or opened offline.
 */
import { formatNumber } from "../util/progress.js";
import { pca2d } from "./pca.js";
import {
  escapeHtml,
  heatmap,
  legend,
  lineChart,
  OTHER_COLOR,
  PALETTE,
  percent,
  type Series,
  scatter,
} from "./svg.js";
import { collapseWarning, ema, smoothingWindow } from "./training.js";
import { TSNE_MAX_POINTS, tsne2d } from "./tsne.js";
import type { ReportData, TrainingStep } from "./types.js";

/** Beyond this the heatmap's cells get too small to hover and the page too heavy; the rest is noted. */
const MAX_HEATMAP = 64;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CSS = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5d6678; --line: #d9dde5; --bg: #fff; --panel: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1480px; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 10px; border-bottom: 1px solid
  var(--line); padding-bottom: 4px; } h3 { font-size: 14px; margin: 16px 0 6px; color: var(--muted); }
.sub, .note { color: var(--muted); }
table { border-collapse: collapse; } td, th { padding: 3px 12px 3px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; color: var(--muted); } td.num { font-variant-numeric: tabular-nums; text-align: right; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 8px 28px; }
.charts h3 { margin-bottom: 0; color: var(--fg); } .how { margin: 0 0 4px; color: var(--muted); font-size: 12px; }
.warning { background: #fff4e5; border-left: 4px solid #e8590c; padding: 8px 12px; border-radius: 4px; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 11px; }
.charts svg.chart { width: 100%; }
.charts.maps { grid-template-columns: repeat(auto-fill, minmax(500px, 1fr)); } .charts.maps svg.chart { max-width: 680px; }
svg .grid { stroke: #eceef2; } svg .axis { stroke: #8a93a6; fill: none; }
svg .tick { fill: var(--muted); } svg .axis-title { fill: var(--fg); font-size: 12px; }
svg .series { fill: none; stroke-width: 1.6; stroke-linejoin: round; stroke-linecap: round; }
svg .series.faint { stroke-width: 1; stroke-opacity: 0.28; }
svg .ref { stroke: #8a93a6; stroke-dasharray: 5 4; } svg .ref-label { fill: var(--muted); font-size: 11px; }
svg .point { fill-opacity: 0.8; stroke: #fff; stroke-width: 0.5; }
svg .cell:hover { stroke: #000; stroke-width: 1.5; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 4px 0 0 62px; font-size: 12px; }
.key i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
  vertical-align: -1px; }
.retrieval { margin: 14px 0; padding: 10px 12px; background: var(--panel); border-radius: 6px; }
.query { font-weight: 600; margin-bottom: 8px; }
.results { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; width: 112px; } figure img { width: 112px; height: 112px; object-fit: contain;
  background: #fff; border: 1px solid var(--line); border-radius: 4px; display: block; }
figcaption { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
figcaption b { color: var(--fg); font-variant-numeric: tabular-nums; }
figure.match img { border: 3px solid #2f9e44; } .tick-mark { color: #2f9e44; font-weight: 700; }
figure.query-image { margin-right: 14px; } figure.query-image img { border: 3px solid var(--fg); }
.gap { align-self: center; color: var(--muted); font-size: 20px; }
.found { font-weight: 400; color: var(--muted); margin-left: 8px; } .found.hit { color: #2f9e44; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 2px 24px; }
.facts .k { color: var(--muted); font-weight: 600; margin-right: 6px; } .facts .v { overflow-wrap: anywhere; }
table.evals td, table.evals th { padding: 3px 14px 3px 0; } table.evals .chance { color: var(--muted); }
h3 .sub { font-weight: 400; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
`;

/** The report as a complete HTML document (a string to write to `report.html`). */
export function renderReport(data: ReportData): string {
  const parts = [
    "<!doctype html>",
    '<html lang="en">',
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(data.title)}</title><style>${CSS}</style></head>`,
    "<body>",
    `<header><h1>${escapeHtml(data.title)}</h1>`,
    data.createdAt ? `<div class="sub">${escapeHtml(data.createdAt)}</div>` : "",
    "</header>",
    runSection(data.run),
    trainingSection(data),
    evalSection(data.evals, data.finalEval),
    data.similarity ? similaritySection(data.similarity) : "",
    data.embeddings ? embeddingSection(data.embeddings) : "",
    data.retrievals ? retrievalSection(data.retrievals) : "",
    "<footer>Generated by Juxta.</footer>",
    "</body></html>",
  ];
  return `${parts.filter((p) => p !== "").join("\n")}\n`;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

function runSection(run: ReportData["run"]): string {
  const rows = Object.entries(run)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      const value = typeof v === "number" ? factNumber(v) : String(v);
      return `<div><span class="k">${escapeHtml(k)}</span> <span class="v">${escapeHtml(value)}</span></div>`;
    });
  return section(
    "run",
    "Run",
    rows.length ? `<div class="facts">${rows.join("")}</div>` : note("No run details."),
  );
}

/** `11,806,720`, `0.0005`, `3.466`: integers with separators, others to four significant digits. */
function factNumber(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : formatNumber(v);
}

/** One chart in a grid cell: a heading, a line saying how to read it, the chart. */
function chartCell(title: string, how: string, svg: string): string {
  return `<div class="cell"><h3>${escapeHtml(title)}</h3><p class="how">${escapeHtml(how)}</p>${svg}</div>`;
}

function trainingSection(data: ReportData): string {
  const { metrics, chance } = data;
  if (metrics.length === 0) return section("training", "Training", note("No training steps were logged."));
  const steps = metrics.map((m) => m.step);
  const window = smoothingWindow(metrics.length);
  const smoothed = window > 1;
  const how = smoothed
    ? `Faint: every step; line: its moving average over ~${window} steps.`
    : "Every logged step.";
  /** A noisy per-step value: raw points faint under their moving average (when the log is long). */
  const noisy = (name: string, y: number[]): Series[] =>
    smoothed
      ? [
          { name: `${name} (every step)`, x: steps, y, color: PALETTE[0], faint: true },
          { name: `${name} (moving average)`, x: steps, y: ema(y, window), color: PALETTE[0] },
        ]
      : [{ name, x: steps, y, color: PALETTE[0] }];
  const has = (k: keyof TrainingStep) => metrics.some((m) => m[k] !== undefined);
  const values = (k: keyof TrainingStep) => metrics.map((m) => m[k] ?? Number.NaN);
  const base = { xLabel: "step", integerX: true };
  const cells = [
    chartCell(
      "Loss",
      chance?.loss ? "dashed: chance, where a model that tells nothing apart sits." : "",
      lineChart({
        ...base,
        id: "loss",
        yLabel: "loss",
        series: noisy("loss", values("loss")),
        refs: chance?.loss ? [chance.loss] : [],
      }),
    ),
  ];
  // Optional curves appear only when some step logged them; steps without a value are gaps.
  if (has("accuracy"))
    cells.push(
      chartCell(
        "In-batch accuracy",
        "share of queries whose positive scores highest in its batch.",
        lineChart({
          ...base,
          id: "accuracy",
          yLabel: "accuracy",
          series: noisy("accuracy", values("accuracy")),
          refs: chance?.accuracy ? [chance.accuracy] : [],
          includeZero: true,
          yFormat: percent,
        }),
      ),
    );
  if (has("gradNorm"))
    cells.push(
      chartCell(
        "Gradient norm",
        "global L2 norm before clipping, on a log scale.",
        lineChart({
          ...base,
          id: "grad_norm",
          yLabel: "gradient norm",
          series: noisy("gradient norm", values("gradNorm")),
          yScale: "log",
        }),
      ),
    );
  if (has("logitScale"))
    cells.push(
      chartCell(
        "Logit scale (1 / temperature)",
        "the learned factor on the similarities: 14.3 = 1/0.07 at the start, capped at 100.",
        lineChart({
          ...base,
          id: "logit_scale",
          yLabel: "logit scale",
          series: [{ name: "logit scale", x: steps, y: values("logitScale"), color: PALETTE[0] }],
        }),
      ),
    );
  if (has("bias"))
    cells.push(
      chartCell(
        "Logit bias",
        "SigLIP's learned bias b, added to every scaled similarity.",
        lineChart({
          ...base,
          id: "bias",
          yLabel: "bias",
          series: [{ name: "bias", x: steps, y: values("bias"), color: PALETTE[0] }],
        }),
      ),
    );
  if (has("active"))
    cells.push(
      chartCell(
        "Active triplets",
        "share of mined triplets that still violate the margin.",
        lineChart({
          ...base,
          id: "active",
          yLabel: "active",
          series: noisy("active", values("active")),
          includeZero: true,
          yFormat: percent,
        }),
      ),
    );
  if (has("lr"))
    cells.push(
      chartCell(
        "Learning rate",
        "the schedule: linear warm-up, then cosine decay.",
        lineChart({
          ...base,
          id: "lr",
          yLabel: "learning rate",
          series: [{ name: "learning rate", x: steps, y: values("lr"), color: PALETTE[0] }],
          includeZero: true,
        }),
      ),
    );
  const warning = collapseWarning(metrics, chance);
  return section(
    "training",
    "Training",
    (warning ? `<p class="warning" role="alert">${escapeHtml(warning)}</p>` : "") +
      note(how) +
      `<div class="charts">${cells.join("\n")}</div>`,
  );
}

/** Readable names of the evaluation kinds, in the order they are shown. */
const EVAL_KINDS: Record<string, string> = {
  image_to_text: "Image → text retrieval",
  text_to_image: "Text → image retrieval",
  zero_shot: "Zero-shot classification",
  knn: "kNN classification",
  linear_probe: "Linear probe",
};
/** Table columns: a metric `R@k` or `topk` goes under "@k". */
const CUTOFFS = [1, 5, 10];

/** `image_to_text/R@1` → kind `image_to_text`, metric `R@1`; `top1` reads `top-1`. */
function splitKey(key: string): { kind: string; metric: string; k?: number } {
  const slash = key.indexOf("/");
  const kind = slash < 0 ? "" : key.slice(0, slash);
  const raw = slash < 0 ? key : key.slice(slash + 1);
  const m = /^(R@|top)(\d+)$/.exec(raw);
  return { kind, metric: m?.[1] === "top" ? `top-${m[2]}` : raw, k: m ? Number(m[2]) : undefined };
}

function kindName(kind: string): string {
  return EVAL_KINDS[kind] ?? (kind ? kind.replace(/_/g, " ") : "other");
}

/** Keys grouped by kind, known kinds first in their order. */
function groupKeys(keys: readonly string[]): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const { kind } = splitKey(key);
    groups.set(kind, [...(groups.get(kind) ?? []), key]);
  }
  const known = Object.keys(EVAL_KINDS);
  const rank = (k: string) => (known.includes(k) ? known.indexOf(k) : known.length);
  return [...groups.entries()].sort((a, b) => rank(a[0]) - rank(b[0]) || (a[0] < b[0] ? -1 : 1));
}

/** A table in percent: one row per kind, columns @1, @5, @10 (and any other metric), and chance at @1. */
function evalTable(values: Record<string, number>, chance: Record<string, number> = {}): string {
  const groups = groupKeys(Object.keys(values));
  const others = [
    ...new Set(
      groups.flatMap(([, ks]) =>
        ks
          .map(splitKey)
          .filter((s) => s.k === undefined)
          .map((s) => s.metric),
      ),
    ),
  ];
  const cols = CUTOFFS.filter((k) => groups.some(([, ks]) => ks.some((key) => splitKey(key).k === k)));
  const hasChance = Object.keys(chance).length > 0;
  const head =
    `<tr><th></th>${cols.map((k) => `<th class="num">@${k}</th>`).join("")}` +
    `${others.map((o) => `<th class="num">${escapeHtml(o)}</th>`).join("")}` +
    `${hasChance ? '<th class="num chance">chance @1</th>' : ""}</tr>`;
  const rows = groups.map(([kind, keys]) => {
    const at = (pred: (s: ReturnType<typeof splitKey>) => boolean) => keys.find((key) => pred(splitKey(key)));
    const cell = (key: string | undefined) =>
      `<td class="num">${key === undefined ? "–" : escapeHtml(percent(values[key] as number))}</td>`;
    const first = at((s) => s.k === 1);
    const c = first === undefined ? undefined : chance[first];
    return (
      `<tr><th>${escapeHtml(kindName(kind))}</th>${cols.map((k) => cell(at((s) => s.k === k))).join("")}` +
      `${others.map((o) => cell(at((s) => s.metric === o))).join("")}` +
      `${hasChance ? `<td class="num chance">${c === undefined ? "–" : escapeHtml(percent(c))}</td>` : ""}</tr>`
    );
  });
  return `<table class="evals">${head}${rows.join("")}</table>`;
}

function evalSection(evals: ReportData["evals"], final: ReportData["finalEval"]): string {
  const parts: string[] = [];
  if (final) {
    parts.push(`<h3>Final model <span class="sub">(${escapeHtml(final.source)})</span></h3>`);
    if (final.counts) parts.push(note(final.counts));
    if (Object.keys(final.values).length > 0) parts.push(evalTable(final.values, final.chance));
    if (final.note) parts.push(note(final.note));
  }
  if (evals.length > 0) {
    const names = [...new Set(evals.flatMap((e) => Object.keys(e.values)))];
    const steps = evals.map((e) => e.step);
    const cells = groupKeys(names).map(([kind, keys]) => {
      const series: Series[] = keys.map((key, i) => ({
        name: splitKey(key).metric,
        x: steps,
        y: evals.map((e) => e.values[key] ?? Number.NaN),
        color: PALETTE[i % PALETTE.length],
      }));
      // One chance line, for the strictest cut-off (@1): more would crowd the chart.
      const first = keys.find((key) => splitKey(key).k === 1) ?? keys[0]!;
      const c = evals.map((e) => e.chance?.[first]).find((v) => v !== undefined);
      const svg = lineChart({
        id: `eval-${kind || "other"}`,
        xLabel: "step",
        yLabel: "share",
        series,
        refs: c === undefined ? [] : [{ y: c, label: `chance: ${splitKey(first).metric}` }],
        includeZero: true,
        integerX: true,
        yFormat: percent,
        height: 240,
      });
      return chartCell(kindName(kind), "", svg + legend(series.map((s) => s.name)));
    });
    const last = evals.at(-1)!;
    parts.push(
      "<h3>During training</h3>",
      note("Each evaluation of the held-out set while training (RUN/evals.jsonl), in percent."),
      `<div class="charts evals">${cells.join("\n")}</div>`,
      `<h3>At step ${formatNumber(last.step)}</h3>`,
      evalTable(last.values, last.chance),
    );
  }
  if (parts.length === 0)
    parts.push(
      note(
        "No evaluations were run: give the report --data (a held-out set) to evaluate the model now, or train with --eval-data.",
      ),
    );
  return section("evals", "Evaluation", parts.join("\n"));
}

function similaritySection(sim: NonNullable<ReportData["similarity"]>): string {
  const { n, matrix, texts } = sim;
  if (matrix.length !== n * n) throw new Error(`similarity: ${matrix.length} values for a ${n}×${n} matrix`);
  const shown = Math.min(n, MAX_HEATMAP);
  const caption = (i: number) => (texts[i] === undefined ? "" : `: ${texts[i]}`);
  const svg = heatmap({
    matrix,
    n,
    shown,
    rowName: (i) => `image ${i}${caption(i)}`,
    colName: (j) => `text ${j}${caption(j)}`,
  });
  const intro = note(
    "Rows are images, columns texts; matching pairs lie on the diagonal. Hover a cell for its captions." +
      (shown < n ? ` Showing the first ${shown} of ${n}.` : ""),
  );
  return section("similarity", "Similarity of one batch", intro + svg);
}

function embeddingSection(e: NonNullable<ReportData["embeddings"]>): string {
  const title = `Map of ${e.what ?? "image embeddings"}`;
  if (e.labels.length !== e.n) throw new Error(`embeddings: ${e.labels.length} labels for ${e.n} points`);
  if (!e.points.every(Number.isFinite))
    return section("embeddings", title, note("The embeddings hold non-finite values; no map was drawn."));
  const { xy, explained } = pca2d(e.points, e.n, e.dim);
  // The most frequent labels get the palette; the rest share one colour.
  const counts = new Map<string, number>();
  for (const l of e.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const colorOf = new Map(ranked.map(([l], i) => [l, i < PALETTE.length ? PALETTE[i]! : OTHER_COLOR]));
  const named = ranked.slice(0, PALETTE.length).map(([l, k]) => `${l} (${k})`);
  const rest = ranked.slice(PALETTE.length);
  const keys = rest.length
    ? [...named, `${rest.length} other labels (${rest.reduce((s, [, k]) => s + k, 0)})`]
    : named;
  const pct = (f: number) => `${Math.round(f * 1000) / 10}%`;
  const colors = e.labels.map((l) => colorOf.get(l)!);
  const titles = e.labels.map((l, i) => `${l} (#${i})`);
  const pcaMap = scatter({
    xy,
    colors,
    titles,
    xLabel: `PC1 (${pct(explained[0])} of variance)`,
    yLabel: `PC2 (${pct(explained[1])} of variance)`,
  });
  const cells = [
    chartCell(
      "PCA",
      "the two directions of largest variance: a linear view, distances along the axes are real.",
      pcaMap,
    ),
  ];
  if (e.n <= TSNE_MAX_POINTS) {
    const tsneMap = scatter({
      xy: tsne2d(e.points, e.n, e.dim),
      colors,
      titles,
      xLabel: "t-SNE 1",
      yLabel: "t-SNE 2",
      id: "embeddings-tsne",
      ticks: false,
    });
    cells.push(
      chartCell(
        "t-SNE",
        "neighbours stay neighbours (perplexity 30); the sizes of clusters and the gaps between them mean little.",
        tsneMap,
      ),
    );
  }
  const keyColors = [...PALETTE.slice(0, named.length), OTHER_COLOR];
  const intro = note(
    `${e.n} images, each a point, coloured by label; hover a point for its label.` +
      (e.n > TSNE_MAX_POINTS ? ` No t-SNE view: it is drawn for up to ${TSNE_MAX_POINTS} points.` : ""),
  );
  return section(
    "embeddings",
    title,
    `${intro}<div class="charts maps">${cells.join("\n")}</div>${legend(keys, keyColors)}`,
  );
}

function pngSrc(png: Uint8Array, where: string): string {
  if (!PNG_SIGNATURE.every((b, i) => png[i] === b)) throw new Error(`${where}: png does not hold PNG bytes`);
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString("base64")}`;
}

function retrievalSection(retrievals: NonNullable<ReportData["retrievals"]>): string {
  const byImage = retrievals.kind === "image-to-image";
  const blocks = retrievals.queries.map((r, qi) => {
    const figures = r.results.map((res, k) => {
      const src = pngSrc(res.png, `retrievals[${qi}].results[${k}]`);
      const alt = res.caption ?? `result ${k + 1}`;
      const cap = res.caption ? `<br>${escapeHtml(res.caption)}` : "";
      const rank = res.rank ?? k + 1;
      // A match that ranks below the top follows after a gap, with its rank.
      const gap = k > 0 && rank > (r.results[k - 1]?.rank ?? k) + 1 ? '<div class="gap">…</div>' : "";
      return (
        `${gap}<figure class="${res.match ? "match" : ""}"><img src="${src}" alt="${escapeHtml(alt)}">` +
        `<figcaption>${res.match ? '<span class="tick-mark">✓</span> ' : ""}#${rank} <b>${res.score.toFixed(3)}</b>${cap}</figcaption></figure>`
      );
    });
    const found =
      r.matchRank === undefined
        ? `no ${byImage ? "image of the same label" : "correct image"} among the ${retrievals.candidates}`
        : `${byImage ? "first image of the same label" : "correct image"} at rank ${r.matchRank} of ${retrievals.candidates}`;
    const query = r.queryPng
      ? `<figure class="query-image"><img src="${pngSrc(r.queryPng, `retrievals[${qi}].queryPng`)}" alt="${escapeHtml(r.query)}"><figcaption>query</figcaption></figure>`
      : "";
    return (
      `<div class="retrieval" data-rank="${r.matchRank ?? ""}"><div class="query">${byImage ? escapeHtml(r.query) : `“${escapeHtml(r.query)}”`}` +
      ` <span class="found${r.matchRank === 1 ? " hit" : ""}">${escapeHtml(found)}</span></div>` +
      `<div class="results">${query}${figures.join("")}</div></div>`
    );
  });
  const intro = byImage
    ? "Each query image with its nearest images (cosine similarity of backbone features, the query itself left out); ✓ and a green frame: same label."
    : "Each caption with the images it scores highest; ✓ and a green frame: an image the caption belongs to. Where that image ranks below the top, it follows with its rank.";
  return section(
    "retrievals",
    byImage ? "Nearest images" : "Text → image retrievals",
    note(intro) + (blocks.length ? blocks.join("\n") : note("No queries.")),
  );
}

function note(text: string): string {
  return `<p class="note">${escapeHtml(text)}</p>`;
}
