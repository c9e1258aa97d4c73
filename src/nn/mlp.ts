import type { Tensor } from "../engine/index.js";
import { type Activation, activate } from "./functional.js";
import { Linear } from "./linear.js";
import { Module } from "./module.js";

/** Two-layer perceptron: fc2(act(fc1(x))). */
export class MLP extends Module {
  fc1: Linear;
  fc2: Linear;

  constructor(
    dim: number,
    hidden: number,
    readonly activation: Activation = "gelu",
    out = dim,
  ) {
    super();
    this.fc1 = new Linear(dim, hidden);
    this.fc2 = new Linear(hidden, out);
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(activate(this.fc1.forward(x), this.activation));
  }
}
