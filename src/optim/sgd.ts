/**
 * SGD with momentum (PyTorch's form): g ← g + λp (coupled weight decay, decay-flagged parameters only),
 * b ← μb + g, p ← p − lr·b (or p − lr·(g + μb) with Nesterov).
 */
import type { Parameter } from "../nn/module.js";
import type { Optimizer, OptimizerState } from "./optimizer.js";

export class SGD implements Optimizer {
  step = 0;
  private readonly buf: Float32Array[];

  constructor(
    readonly params: readonly Parameter[],
    readonly opts: { momentum?: number; weightDecay?: number; nesterov?: boolean } = {},
  ) {
    this.buf = params.map((p) => new Float32Array(p.size));
  }

  update(grads: readonly Float32Array[], lr: number, gradScale = 1): void {
    this.step++;
    const mu = this.opts.momentum ?? 0.9;
    const wd = this.opts.weightDecay ?? 0;
    const nesterov = this.opts.nesterov ?? false;
    this.params.forEach((p, k) => {
      const g = grads[k] as Float32Array;
      const b = this.buf[k] as Float32Array;
      const x = p.data;
      const lam = p.decay ? wd : 0;
      const first = this.step === 1;
      for (let i = 0; i < x.length; i++) {
        const gi = (g[i] as number) * gradScale + lam * (x[i] as number);
        const bi = first ? gi : mu * (b[i] as number) + gi;
        b[i] = bi;
        x[i] = (x[i] as number) - lr * (nesterov ? gi + mu * bi : bi);
      }
    });
  }

  state(): OptimizerState {
    return {
      step: this.step,
      tensors: Object.fromEntries(
        this.params.map((p, k) => [`momentum.${p.name}`, this.buf[k] as Float32Array]),
      ),
    };
  }

  loadState(s: OptimizerState): void {
    this.step = s.step;
    this.params.forEach((p, k) => {
      const src = s.tensors[`momentum.${p.name}`];
      if (!src || src.length !== p.size)
        throw new Error(`optimizer state: 'momentum.${p.name}' is missing or has the wrong size`);
      (this.buf[k] as Float32Array).set(src);
    });
  }
}
