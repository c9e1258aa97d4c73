/**
 * The calibration report: one self-contained HTML page with, per concept, its ROC and precision-recall
 * curves on the held-out examples and the chosen operating point marked on each, beside the measured
 * precision, recall and false-positive rate, and the trained head's ROC curve for comparison.
 */
import { escapeHtml, PALETTE } from "../report/svg.js";
import type { CalibrationResult, ConceptCurves } from "./calibrate.js";

const W = 300;
const H = 260;
const M = { left: 46, right: 12, top: 12, bottom: 40 };

/** A [0,1]×[0,1] chart with curves and marked points. */
function unitChart(
  id: string,
  xLabel: string,
  yLabel: string,
  curves: { name: string; x: number[]; y: number[]; dash?: boolean }[],
  points: { x: number; y: number; label: string }[],
): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x: number) => (M.left + x * pw).toFixed(1);
  const py = (y: number) => (M.top + (1 - y) * ph).toFixed(1);
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const grid = ticks
    .map(
      (t) =>
        `<line x1="${px(t)}" y1="${py(0)}" x2="${px(t)}" y2="${py(1)}" stroke="#eee"/>` +
        `<line x1="${px(0)}" y1="${py(t)}" x2="${px(1)}" y2="${py(t)}" stroke="#eee"/>` +
        `<text x="${px(t)}" y="${(H - M.bottom + 16).toFixed(1)}" text-anchor="middle">${t}</text>` +
        `<text x="${M.left - 6}" y="${(Number(py(t)) + 4).toFixed(1)}" text-anchor="end">${t}</text>`,
    )
    .join("");
  const paths = curves
    .map((c, i) => {
      const d = c.x.map((x, k) => `${k === 0 ? "M" : "L"}${px(x)},${py(c.y[k] as number)}`).join("");
      return `<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2"${
        c.dash ? ' stroke-dasharray="5 4"' : ""
      }><title>${escapeHtml(c.name)}</title></path>`;
    })
    .join("");
  const marks = points
    .map(
      (p) =>
        `<circle cx="${px(p.x)}" cy="${py(p.y)}" r="5" fill="#e15759" stroke="#fff" stroke-width="1.5" data-point="operating"><title>${escapeHtml(p.label)}</title></circle>`,
    )
    .join("");
  return `<svg data-chart="${escapeHtml(id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-size="11" font-family="sans-serif">
<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="#fff" stroke="#999"/>${grid}${paths}${marks}
<text x="${M.left + pw / 2}" y="${H - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>
<text transform="translate(12,${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text></svg>`;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : "–");
const num = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–");

function section(c: ConceptCurves, i: number): string {
  const p = c.chosen;
  const op = `threshold ${num(p.threshold)}: precision ${pct(p.precision)}, recall ${pct(p.recall)}, FPR ${pct(p.fpr)}`;
  const roc = unitChart(
    `roc-${i}`,
    "false-positive rate",
    "true-positive rate (recall)",
    [
      { name: `${c.name}: prompts`, x: c.roc.fpr, y: c.roc.tpr },
      ...(c.head
        ? [{ name: `${c.name}: trained head`, x: c.head.roc.fpr, y: c.head.roc.tpr, dash: true }]
        : []),
    ],
    [{ x: p.fpr, y: p.recall, label: op }],
  );
  const pr = unitChart(
    `pr-${i}`,
    "recall",
    "precision",
    [{ name: c.name, x: c.pr.recall, y: c.pr.precision }],
    [{ x: p.recall, y: p.precision, label: op }],
  );
  const cal = c.calibration;
  const target =
    "precision" in cal.target ? `precision ≥ ${cal.target.precision}` : `FPR ≤ ${cal.target.fpr}`;
  const rows = [
    ["target (on the fit part)", `${target}${cal.met === false ? " — not met; closest point kept" : ""}`],
    ["threshold", num(p.threshold)],
    ["held-out precision", `${pct(p.precision)} (${p.tp} of ${p.tp + p.fp} fired)`],
    ["held-out recall", `${pct(p.recall)} (${p.tp} of ${p.tp + p.fn})`],
    ["held-out false-positive rate", `${pct(p.fpr)} (${p.fp} of ${p.fp + p.tn})`],
    ["held-out ROC AUC", num(cal.auc)],
    ...(typeof cal.aucAdversarial === "number"
      ? [["ROC AUC, adversarial swaps", num(cal.aucAdversarial)]]
      : []),
    ...(c.head
      ? [
          ["trained head: ROC AUC", num(c.head.auc)],
          [
            "trained head: precision / recall / FPR",
            `${pct(c.head.chosen.precision)} / ${pct(c.head.chosen.recall)} / ${pct(c.head.chosen.fpr)}`,
          ],
        ]
      : []),
  ];
  const table = rows
    .map(([k, v]) => `<tr><th>${escapeHtml(k as string)}</th><td>${escapeHtml(v as string)}</td></tr>`)
    .join("");
  return `<section data-concept="${escapeHtml(c.name)}"><h2>${escapeHtml(c.name)}</h2>
<div class="row"><figure>${roc}<figcaption>ROC (held out)${c.head ? "; dashed: trained head" : ""}</figcaption></figure>
<figure>${pr}<figcaption>precision-recall (held out)</figcaption></figure><table>${table}</table></div></section>`;
}

export function calibrationReportHtml(r: CalibrationResult, title: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
.row{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}figure{margin:0}figcaption{font-size:12px;color:#555;text-align:center}
table{border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:4px 10px;border-bottom:1px solid #eee}th{font-weight:500;color:#555}
section{border-top:1px solid #ddd;padding-top:8px;margin-top:16px}h2{font-size:17px;margin:6px 0}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>Thresholds fitted on ${r.split.fit} examples, measured on ${r.split.heldOut} held out. The red dot is the chosen operating point.${
    r.unmet.length ? ` Target not met on the fit part for: ${escapeHtml(r.unmet.join(", "))}.` : ""
  }</p>
${r.curves.map(section).join("\n")}
</body></html>
`;
}
