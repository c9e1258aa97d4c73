/**
 * The compiled training step: forward pass, loss, reverse-mode gradients, the global gradient norm and any
 * metrics, as one ONNX model. Parameters and buffers are fed zero-copy from their Float32Arrays; gradients
 * come back for the optimizer, which updates the parameters in place.
 */
import {
  compile,
  type Dim,
  type DType,
  type Feed,
  grad,
  input,
  Session,
  type SessionOptions,
  type Tensor,
  type TypedArray,
} from "../engine/index.js";
import { type Buffer, bind, type Module, type Parameter } from "./module.js";

export interface StepSpec {
  model: Module;
  /** Data inputs of the step (images, tokens, labels, …). */
  inputs: Record<string, { shape: readonly Dim[]; dtype?: DType }>;
  /** Builds the loss (and metrics to report) from the bound inputs; runs once, while tracing. */
  loss: (inputs: Record<string, Tensor>) => { loss: Tensor; metrics?: Record<string, Tensor> };
  /** Which parameters are trained (default: all). Others are fed but get no gradient (e.g. LiT's locked tower). */
  trainable?: (p: Parameter) => boolean;
  session?: SessionOptions;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  /** Gradients aligned with `TrainStep.params`. */
  grads: Float32Array[];
  metrics: Record<string, TypedArray>;
}

export class TrainStep {
  private constructor(
    private readonly session: Session,
    /** Trained parameters, in gradient order. */
    readonly params: Parameter[],
    private readonly allParams: Parameter[],
    private readonly buffers: Buffer[],
    private readonly metricNames: string[],
  ) {}

  static async create(spec: StepSpec): Promise<TrainStep> {
    const { params, buffers } = bind(spec.model);
    const trained = params.filter(spec.trainable ?? (() => true));
    const inputs = Object.fromEntries(
      Object.entries(spec.inputs).map(([name, s]) => [name, input(name, s.shape, s.dtype ?? "float32")]),
    );
    const { loss, metrics = {} } = spec.loss(inputs);
    const grads = grad(
      loss,
      trained.map((p) => p.value),
    );
    const squares = grads.map((g) => g.square().sum());
    const gradNorm = squares.reduce((a, b) => a.add(b)).sqrt();
    const outputs: Record<string, Tensor> = { loss, grad_norm: gradNorm };
    grads.forEach((g, i) => {
      outputs[`grad.${trained[i]!.name}`] = g;
    });
    for (const [name, t] of Object.entries(metrics)) outputs[`metric.${name}`] = t;
    for (const b of buffers) if (b.next) outputs[`buffer.${b.name}`] = b.next;
    const session = await Session.create(compile(outputs, { name: "train_step" }), spec.session);
    return new TrainStep(session, trained, params, buffers, Object.keys(metrics));
  }

  /** Run one step on a batch; `step` keys the random ops (dropout) so resumed runs match. */
  async run(batch: Record<string, Feed>, step: number): Promise<StepResult> {
    const feeds: Record<string, Feed> = { ...batch };
    for (const p of this.allParams) feeds[p.name] = p.data;
    for (const b of this.buffers) feeds[b.name] = b.data;
    const out = await this.session.run(feeds, { step });
    for (const b of this.buffers) {
      const next = out[`buffer.${b.name}`];
      if (next) b.data.set(next.data as Float32Array);
    }
    return {
      loss: out.loss!.data[0] as number,
      gradNorm: out.grad_norm!.data[0] as number,
      grads: this.params.map((p) => out[`grad.${p.name}`]!.data as Float32Array),
      metrics: Object.fromEntries(this.metricNames.map((m) => [m, out[`metric.${m}`]!.data])),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
