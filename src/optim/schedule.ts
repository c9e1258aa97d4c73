/**
 * Learning-rate schedule: linear warmup from 0 to `lr` over `warmup` steps, then cosine decay to `minLr`
 * at `total` steps (as OpenCLIP's cosine_lr).
 */
export function warmupCosine(
  step: number,
  opts: { lr: number; warmup: number; total: number; minLr?: number },
): number {
  const { lr, warmup, total } = opts;
  const min = opts.minLr ?? 0;
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const span = Math.max(1, total - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * progress));
}
