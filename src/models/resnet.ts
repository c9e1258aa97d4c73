/**
 * A small residual network for 32–64 px images (He et al. 2016, "Deep Residual Learning for Image
 * Recognition", in the CIFAR layout): a 3×3 convolution stem, stages of BasicBlocks (two 3×3 convolutions
 * with BatchNorm, identity shortcut or a strided 1×1 projection when the shape changes), global average pool.
 * No max-pool: at these sizes the stem's stride does the early downsampling.
 */
import type { Tensor } from "../engine/index.js";
import { BatchNorm2d, Conv2d, Module } from "../nn/index.js";

export interface ResNetConfig {
  type: "resnet";
  imageSize: number;
  /** Stride of the stem convolution (1 for 32 px, 2 for 64 px keeps the same feature-map sizes). */
  stemStride: number;
  /** Channels of each stage; stages after the first halve the resolution. */
  widths: number[];
  /** BasicBlocks per stage. */
  blocks: number[];
}

function conv3x3(cin: number, cout: number, stride: number): Conv2d {
  // No bias: the BatchNorm that follows has one.
  return new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false });
}

export class BasicBlock extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  downsample?: Conv2d;
  downsample_bn?: BatchNorm2d;

  constructor(cin: number, cout: number, stride: number) {
    super();
    this.conv1 = conv3x3(cin, cout, stride);
    this.bn1 = new BatchNorm2d(cout);
    this.conv2 = conv3x3(cout, cout, 1);
    this.bn2 = new BatchNorm2d(cout);
    if (stride !== 1 || cin !== cout) {
      this.downsample = new Conv2d(cin, cout, 1, { stride, bias: false });
      this.downsample_bn = new BatchNorm2d(cout);
    }
  }

  forward(x: Tensor): Tensor {
    const h = this.bn1.forward(this.conv1.forward(x)).relu();
    const y = this.bn2.forward(this.conv2.forward(h));
    const shortcut =
      this.downsample && this.downsample_bn ? this.downsample_bn.forward(this.downsample.forward(x)) : x;
    return y.add(shortcut).relu();
  }
}

export class ResNet extends Module {
  stem: Conv2d;
  stem_bn: BatchNorm2d;
  layers: BasicBlock[];

  constructor(readonly cfg: ResNetConfig) {
    super();
    const { widths, blocks } = cfg;
    if (widths.length === 0 || widths.length !== blocks.length)
      throw new Error(`resnet: widths (${widths.length}) and blocks (${blocks.length}) must pair up`);
    const down = cfg.stemStride * 2 ** (widths.length - 1);
    if (cfg.imageSize % down !== 0)
      throw new Error(`resnet: image size ${cfg.imageSize} is not a multiple of the total stride ${down}`);
    const w0 = widths[0] as number;
    this.stem = new Conv2d(3, w0, 3, { stride: cfg.stemStride, padding: 1, bias: false });
    this.stem_bn = new BatchNorm2d(w0);
    this.layers = [];
    let cin = w0;
    widths.forEach((w, s) => {
      for (let b = 0; b < (blocks[s] as number); b++) {
        this.layers.push(new BasicBlock(cin, w, b === 0 && s > 0 ? 2 : 1));
        cin = w;
      }
    });
  }

  /** Size of the pooled feature vector. */
  get featureDim(): number {
    return this.cfg.widths[this.cfg.widths.length - 1] as number;
  }

  /** [B, 3, S, S] normalized pixels → [B, featureDim] (globally average-pooled). */
  forward(images: Tensor): Tensor {
    let h = this.stem_bn.forward(this.stem.forward(images)).relu();
    for (const block of this.layers) h = block.forward(h);
    return h.mean([2, 3]);
  }
}
