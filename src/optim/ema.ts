/**
 * Exponential moving average of parameters: θ_ema ← m·θ_ema + (1−m)·θ (MoCo's key encoder, model EMA).
 */
import type { Parameter } from "../nn/module.js";

export function emaUpdate(
  target: readonly Parameter[],
  source: readonly Parameter[],
  momentum: number,
): void {
  if (target.length !== source.length) throw new Error("ema: parameter lists differ in length");
  target.forEach((t, k) => {
    const s = source[k] as Parameter;
    if (t.size !== s.size) throw new Error(`ema: '${t.name}' and '${s.name}' differ in size`);
    const a = t.data;
    const b = s.data;
    for (let i = 0; i < a.length; i++) a[i] = momentum * (a[i] as number) + (1 - momentum) * (b[i] as number);
  });
}
