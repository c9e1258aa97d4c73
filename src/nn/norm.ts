import type { Tensor } from "../engine/index.js";
import { Buffer, Module, Parameter } from "./module.js";

/** Layer normalization over the last axis (gain 1, bias 0 at init). */
export class LayerNorm extends Module {
  weight: Parameter;
  bias: Parameter;

  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = new Parameter([dim], { kind: "ones" });
    this.bias = new Parameter([dim], { kind: "zeros" });
  }

  forward(x: Tensor): Tensor {
    return x.layerNorm(this.weight.value, this.bias.value, this.eps);
  }
}

/**
 * Batch normalization over N, H, W of [N, C, H, W]. Training uses the batch's statistics (biased variance
 * to normalize) and updates the running ones (unbiased variance) with `momentum`, as PyTorch does;
 * evaluation uses the running statistics.
 */
export class BatchNorm2d extends Module {
  weight: Parameter;
  bias: Parameter;
  runningMean: Buffer;
  runningVar: Buffer;

  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = new Parameter([channels], { kind: "ones" });
    this.bias = new Parameter([channels], { kind: "zeros" });
    this.runningMean = new Buffer([channels], 0);
    this.runningVar = new Buffer([channels], 1);
  }

  forward(x: Tensor): Tensor {
    const c = this.channels;
    const perChannel = (t: Tensor) => t.reshape([1, c, 1, 1]);
    let mean: Tensor;
    let variance: Tensor;
    if (this.training) {
      mean = x.mean([0, 2, 3], true);
      variance = x.sub(mean).square().mean([0, 2, 3], true);
      const n = (x.shape[0] as number) * (x.shape[2] as number) * (x.shape[3] as number);
      const m = this.momentum;
      const unbiased = variance.reshape([c]).mul(n / Math.max(1, n - 1));
      this.runningMean.next = this.runningMean.value.mul(1 - m).add(mean.reshape([c]).detach().mul(m));
      this.runningVar.next = this.runningVar.value.mul(1 - m).add(unbiased.detach().mul(m));
    } else {
      mean = perChannel(this.runningMean.value);
      variance = perChannel(this.runningVar.value);
    }
    const scale = variance.add(this.eps).rsqrt().mul(perChannel(this.weight.value));
    return x.sub(mean).mul(scale).add(perChannel(this.bias.value));
  }
}
