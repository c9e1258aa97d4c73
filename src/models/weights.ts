/**
 * Moving a model's weights to and from named tensors: every parameter must be present with its exact
 * shape, and nothing unknown may be left over — a mismatch is a UserError naming the tensor.
 */
import type { SafetensorsInput, SafetensorsTensor } from "../io/safetensors.js";
import type { Module } from "../nn/module.js";
import { UserError } from "../util/errors.js";

export function weightsOf(model: Module): Record<string, SafetensorsInput> {
  const out: Record<string, SafetensorsInput> = {};
  for (const p of model.parameters()) out[p.name] = { dtype: "F32", shape: p.shape, data: p.data };
  for (const b of model.buffers()) out[b.name] = { dtype: "F32", shape: b.shape, data: b.data };
  return out;
}

/** Index of the first NaN or ±Infinity, or -1: a model with one computes NaN everywhere, silently. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

/** Copy tensors into the model's parameters and buffers; `source` names the file in errors. */
export function loadWeights(
  model: Module,
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  source: string,
): void {
  const expected = [...model.parameters(), ...model.buffers()];
  const seen = new Set<string>();
  for (const p of expected) {
    const t = tensors.get(p.name);
    if (!t)
      throw new UserError(
        `${source}: tensor '${p.name}' is missing (shape [${p.shape.join(", ")}] expected)`,
      );
    const same = t.shape.length === p.shape.length && t.shape.every((d, i) => d === p.shape[i]);
    if (!same)
      throw new UserError(
        `${source}: tensor '${p.name}' has shape [${t.shape.join(", ")}], the model's config needs [${p.shape.join(", ")}]`,
      );
    if (t.dtype !== "F32" && t.dtype !== "F64")
      throw new UserError(`${source}: tensor '${p.name}' has dtype ${t.stored}, expected a float type`);
    const data = t.data as Float32Array | Float64Array;
    const bad = firstNonFinite(data);
    if (bad >= 0)
      throw new UserError(
        `${source}: tensor '${p.name}' holds ${data[bad]} at element ${bad}: the weights diverged or the file is ` +
          "damaged; use an earlier checkpoint (or retrain with a lower learning rate)",
      );
    p.data.set(data);
    seen.add(p.name);
  }
  const extra = [...tensors.keys()].filter((k) => !seen.has(k));
  if (extra.length > 0)
    throw new UserError(
      `${source}: ${extra.length} tensor(s) the model does not have: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}`,
    );
}
