/**
 * Global-norm gradient clipping: if ‖g‖₂ over all parameters exceeds `maxNorm`, every gradient is scaled by
 * maxNorm/‖g‖₂ (returned as a factor for the optimizer to fold into its update, so nothing is copied).
 */
export function clipScale(globalNorm: number, maxNorm: number | undefined): number {
  if (maxNorm === undefined || !Number.isFinite(globalNorm) || globalNorm <= maxNorm) return 1;
  return maxNorm / (globalNorm + 1e-6);
}

/** ‖g‖₂ over a list of gradient arrays (the trainer usually gets it from the graph instead). */
export function globalNorm(grads: readonly Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += (g[i] as number) ** 2;
  return Math.sqrt(s);
}
