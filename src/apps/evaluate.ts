/** The CLI's readable table of a CLIP evaluation (`evaluateClip` in eval/clip.ts). */
import type { EvalResult } from "../eval/clip.js";
import type { RecallAtK } from "../eval/retrieval.js";

/** A readable table of the result (percentages). */
export function formatEval(result: EvalResult, title?: string): string {
  const pct = (x: number | undefined) => (x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);
  const { samples, images, texts, labelled, skipped } = result.counts;
  const unreadable = skipped > 0 ? ` (${skipped} unreadable image${skipped === 1 ? "" : "s"} skipped)` : "";
  const lines = [
    `${title ? `${title}: ` : ""}${samples} samples, ${images} images, ${texts} distinct captions, ${labelled} labelled${unreadable}`,
  ];
  const rows: [string, string[]][] = [];
  const recall = (name: string, r: RecallAtK | undefined) => {
    if (r) rows.push([name, Object.entries(r).map(([k, v]) => `${k} ${pct(v)}`)]);
  };
  recall("image → text", result.image_to_text);
  recall("text → image", result.text_to_image);
  const z = result.zero_shot;
  if (z) rows.push(["zero-shot", [`top1 ${pct(z.top1)}`, `top5 ${pct(z.top5)}`, `(${z.classes} classes)`]]);
  if (result.knn) rows.push(["kNN", [`top1 ${pct(result.knn.top1)}`, `top5 ${pct(result.knn.top5)}`]]);
  const lp = result.linear_probe;
  if (lp) rows.push(["linear probe", [`top1 ${pct(lp.top1)}`, `top5 ${pct(lp.top5)}`]]);
  const width = Math.max(0, ...rows.map(([n]) => n.length));
  const cell = Math.max(0, ...rows.flatMap(([, cells]) => cells.map((c) => c.length)));
  for (const [name, cells] of rows)
    lines.push(
      `  ${name.padEnd(width)}  ${cells
        .map((c) => c.padEnd(cell))
        .join("  ")
        .trimEnd()}`,
    );
  return lines.join("\n");
}
