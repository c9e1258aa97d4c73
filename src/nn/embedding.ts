import type { Tensor } from "../engine/index.js";
import { Module, Parameter } from "./module.js";

/** A lookup table [count, dim]: rows selected by integer ids. No weight decay by default. */
export class Embedding extends Module {
  weight: Parameter;

  constructor(
    readonly count: number,
    readonly dim: number,
    std = 0.02,
  ) {
    super();
    this.weight = new Parameter([count, dim], { kind: "normal", std }, false);
  }

  forward(ids: Tensor): Tensor {
    return this.weight.value.gather(ids);
  }
}
