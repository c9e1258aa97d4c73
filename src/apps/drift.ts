/**
 * What a lower inference precision changes, measured rather than assumed: `juxta eval --dtype q8|fp16`
 * evaluates the model at that precision and at fp32 on the same set, and reports the differences
 * (retrieval recall, zero-shot accuracy) and the cosine of each image's and caption's embedding to its fp32
 * embedding (median and worst).
 */
import type { WeightFormat } from "../engine/index.js";
import type { EvalResult, EvalSet } from "../eval/clip.js";
import type { ModelHandle } from "../handle/model.js";

export interface CosineSummary {
  median: number;
  worst: number;
}

export interface DtypeDrift {
  dtype: WeightFormat;
  /** The same evaluation at fp32. */
  fp32: EvalResult;
  /** This precision minus fp32, in points (percentage points) per metric, e.g. image_to_text.R@10. */
  delta: Record<string, number>;
  image_cosine: CosineSummary;
  text_cosine?: CosineSummary;
}

/** Per-row cosine between two [n, d] embedding blocks, summarised. */
export function rowCosines(a: Float32Array, b: Float32Array, d: number): CosineSummary {
  const c: number[] = [];
  for (let r = 0; r < a.length / d; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let j = r * d; j < (r + 1) * d; j++) {
      ab += (a[j] as number) * (b[j] as number);
      aa += (a[j] as number) ** 2;
      bb += (b[j] as number) ** 2;
    }
    c.push(aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : aa === bb ? 1 : 0);
  }
  c.sort((x, y) => x - y);
  return { median: c[c.length >> 1] ?? 1, worst: c[0] ?? 1 };
}

/** Every metric both results have, as `group.metric` → value (fractions). */
function flatMetrics(r: EvalResult): Map<string, number> {
  const out = new Map<string, number>();
  for (const group of ["image_to_text", "text_to_image", "zero_shot", "knn", "linear_probe"] as const) {
    const g = r[group] as Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(g ?? {}))
      if (typeof v === "number" && k !== "classes") out.set(`${group}.${k}`, v);
  }
  return out;
}

/** The drift of `result` (at `quantized.dtype`) against `fp32Result`, with the embeddings of `set`. */
export async function measureDrift(
  set: EvalSet,
  quantized: ModelHandle,
  fp32: ModelHandle,
  result: EvalResult,
  fp32Result: EvalResult,
): Promise<DtypeDrift> {
  const delta: Record<string, number> = {};
  const base = flatMetrics(fp32Result);
  for (const [k, v] of flatMetrics(result)) {
    const b = base.get(k);
    if (b !== undefined) delta[k] = Math.round((v - b) * 1000) / 10;
  }
  const refs = set.images.map((im) => im.ref);
  const d = quantized.dim;
  // Unreadable images are skipped (the evaluations counted them); the same ones fail at every precision.
  const image_cosine = rowCosines(
    (await quantized.embedImagesSkipping(refs)).embeds,
    (await fp32.embedImagesSkipping(refs)).embeds,
    d,
  );
  const drift: DtypeDrift = { dtype: quantized.dtype, fp32: fp32Result, delta, image_cosine };
  if (quantized.hasText && set.texts.length > 0)
    drift.text_cosine = rowCosines(
      await quantized.embedTexts(set.texts),
      await fp32.embedTexts(set.texts),
      d,
    );
  return drift;
}

/** The drift as lines under an evaluation's own report. */
export function formatDrift(drift: DtypeDrift): string {
  const cos = (c: CosineSummary) => `median ${c.median.toFixed(5)}, worst ${c.worst.toFixed(5)}`;
  const lines = [`${drift.dtype} vs fp32 on the same set:`];
  lines.push(`  image embedding cosine: ${cos(drift.image_cosine)}`);
  if (drift.text_cosine) lines.push(`  text embedding cosine:  ${cos(drift.text_cosine)}`);
  const deltas = Object.entries(drift.delta).map(([k, v]) => `${k} ${v >= 0 ? "+" : ""}${v.toFixed(1)}`);
  if (deltas.length > 0) lines.push(`  change in points: ${deltas.join(", ")}`);
  return lines.join("\n");
}
