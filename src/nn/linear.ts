import type { Tensor } from "../engine/index.js";
import { Module, Parameter } from "./module.js";

/** y = x·Wᵀ + b with W stored [out, in] as in PyTorch; init U(±1/√in) (PyTorch's default). */
export class Linear extends Module {
  weight: Parameter;
  bias?: Parameter;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; std?: number } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    const init =
      opts.std !== undefined
        ? ({ kind: "normal", std: opts.std } as const)
        : ({ kind: "uniform", bound } as const);
    this.weight = new Parameter([outFeatures, inFeatures], init);
    if (opts.bias ?? true)
      this.bias = new Parameter(
        [outFeatures],
        opts.std !== undefined ? { kind: "zeros" } : { kind: "uniform", bound },
      );
  }

  forward(x: Tensor): Tensor {
    return x.linear(this.weight.value, this.bias?.value);
  }
}
