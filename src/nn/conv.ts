import { conv2d, type Tensor } from "../engine/index.js";
import { Module, Parameter } from "./module.js";

/** 2-D convolution with square kernels; weight [out, in, k, k], init U(±1/√(in·k²)) as PyTorch. */
export class Conv2d extends Module {
  weight: Parameter;
  bias?: Parameter;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    readonly opts: { stride?: number; padding?: number; bias?: boolean } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(inChannels * kernel * kernel);
    this.weight = new Parameter([outChannels, inChannels, kernel, kernel], { kind: "uniform", bound });
    if (opts.bias ?? true) this.bias = new Parameter([outChannels], { kind: "uniform", bound });
  }

  forward(x: Tensor): Tensor {
    const y = conv2d(x, this.weight.value, { stride: this.opts.stride, padding: this.opts.padding });
    return this.bias ? y.add(this.bias.value.reshape([this.outChannels, 1, 1])) : y;
  }
}
