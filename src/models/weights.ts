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
    p.data.set(t.data as Float32Array | Float64Array);
    seen.add(p.name);
  }
  const extra = [...tensors.keys()].filter((k) => !seen.has(k));
  if (extra.length > 0)
    throw new UserError(
      `${source}: ${extra.length} tensor(s) the model does not have: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}`,
    );
}
