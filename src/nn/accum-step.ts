/**
 * A training step over a contrastive batch too big to back-propagate at once (open_clip's `--accum-freq`;
 * the feature cache of Gao et al. 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited
 * Setup"). The batch is K micro-batches of b samples, and the loss needs every sample's features:
 *
 *   1. the features graph embeds each micro-batch without gradients, filling a cache of all K·b features;
 *   2. the micro-step graph, once per micro-batch j, embeds j again, puts its fresh features in place of the
 *      cached ones (the others enter as constants), computes the loss over all K·b and back-propagates
 *      through micro-batch j only;
 *   3. the encoders' gradients are summed over j; the loss's own parameters (CLIP's temperature, SigLIP's
 *      bias), which the loss reads directly, take their gradient from one micro-step.
 *
 * Since ∂L/∂θ = Σ_j ∂L/∂f_j · ∂f_j/∂θ for an encoder parameter θ, the sum is the big batch's gradient: the
 * result equals one step on the whole batch up to float rounding, while activations are held for b samples
 * at a time. (open_clip back-propagates the temperature in every micro-step, so its temperature gradient is
 * K times the big batch's; here it is counted once.) Batch statistics (BatchNorm) are a micro-batch's, as in
 * open_clip; random ops (dropout) are refused, since the two passes would draw different masks.
 *
 *   const step = await AccumStep.create({ model, accum: 8, inputs: { images: … [b, 3, S, S] },
 *     features: ({ images, tokens }) => ({ image: model.encodeImage(images), text: model.encodeText(tokens) }),
 *     loss: ({ image, text }) => ({ loss: clipLoss(image, text, model.scale()).loss }) });
 *   const r = await step.run([micro0, micro1, …], stepIndex);   // StepResult, as TrainStep's
 */
import {
  compile,
  concat,
  type Dim,
  type DType,
  type Feed,
  grad,
  input,
  type RunTensor,
  Session,
  type SessionOptions,
  sizeOf,
  type Tensor,
  topoSort,
} from "../engine/index.js";
import { UserError } from "../util/errors.js";
import { type Buffer, bind, type Module, type Parameter } from "./module.js";
import type { StepResult } from "./train-step.js";

export interface AccumSpec {
  model: Module;
  /** Micro-batches per step (K ≥ 1). */
  accum: number;
  /** Data inputs of one micro-batch. */
  inputs: Record<string, { shape: readonly Dim[]; dtype?: DType }>;
  /** One micro-batch's per-sample features (each [b, …]); traced once per graph. */
  features: (inputs: Record<string, Tensor>) => Record<string, Tensor>;
  /** The loss and metrics over the whole batch's features (each [K·b, …], micro-batch j at rows j·b…). */
  loss: (features: Record<string, Tensor>) => { loss: Tensor; metrics?: Record<string, Tensor> };
  trainable?: (p: Parameter) => boolean;
  session?: SessionOptions;
}

interface FeatureSpec {
  name: string;
  /** Shape of one micro-batch's features, [b, …]. */
  shape: number[];
}

export class AccumStep {
  private readonly cache: Map<string, Float32Array>;
  /** Per trained parameter: whether its gradient flows through the features (summed over micro-steps). */
  private readonly throughFeatures: boolean[];

  private constructor(
    private readonly featuresSession: Session,
    private readonly microSession: Session,
    /** Trained parameters, in gradient order. */
    readonly params: Parameter[],
    private readonly feedsOf: Map<string, Float32Array>,
    private readonly buffers: Buffer[],
    private readonly features: FeatureSpec[],
    private readonly metricNames: string[],
    readonly accum: number,
    /** Samples per micro-batch. */
    readonly micro: number,
    tower: Set<Tensor>,
  ) {
    this.cache = new Map(features.map((f) => [f.name, new Float32Array(accum * sizeOf(f.shape))]));
    this.throughFeatures = params.map((p) => tower.has(p.value as Tensor));
  }

  static async create(spec: AccumSpec): Promise<AccumStep> {
    const k = spec.accum;
    if (!Number.isInteger(k) || k < 1)
      throw new UserError(`AccumStep: accum must be an integer ≥ 1, got ${k}`);
    const { params, buffers } = bind(spec.model);
    const trained = params.filter(spec.trainable ?? (() => true));
    const dataInputs = () =>
      Object.fromEntries(
        Object.entries(spec.inputs).map(([name, s]) => [name, input(name, s.shape, s.dtype ?? "float32")]),
      );

    // 1. The features graph: forward only.
    const cached = spec.features(dataInputs());
    const features: FeatureSpec[] = Object.entries(cached).map(([name, t]) => {
      if (!t.shape.every((d) => typeof d === "number"))
        throw new UserError(`AccumStep: feature '${name}' has a symbolic shape`);
      return { name, shape: t.shape as number[] };
    });
    const micro = features[0]?.shape[0];
    if (micro === undefined || features.some((f) => f.shape[0] !== micro))
      throw new UserError("AccumStep: features must share their leading (batch) dimension");
    const featuresGraph = compile(
      Object.fromEntries(Object.entries(cached).map(([n, t]) => [`feature.${n}`, t])),
      { name: "accum_features" },
    );

    // 2. The micro-step graph: fresh features of one micro-batch placed among the cached ones.
    const fresh = spec.features(dataInputs());
    const placement = input("placement", [k * micro], "int32");
    const whole = Object.fromEntries(
      features.map(({ name, shape }) => {
        const rest = shape.slice(1);
        const all = input(`cache.${name}`, [k * micro, ...rest], "float32");
        return [name, concat([all, fresh[name] as Tensor], 0).gather(placement)];
      }),
    );
    const { loss, metrics = {} } = spec.loss(whole);
    const gs = grad(
      loss,
      trained.map((p) => p.value),
    );
    const outputs: Record<string, Tensor> = { loss };
    gs.forEach((g, i) => {
      outputs[`grad.${trained[i]!.name}`] = g;
    });
    for (const [name, t] of Object.entries(metrics)) outputs[`metric.${name}`] = t;
    for (const b of buffers) if (b.next) outputs[`buffer.${b.name}`] = b.next;
    const microGraph = compile(outputs, { name: "accum_micro_step" });
    for (const g of [featuresGraph, microGraph])
      if (g.randoms.length > 0)
        throw new UserError(
          "AccumStep: the model draws random numbers (dropout); its two passes over a micro-batch would differ",
        );

    // Parameters the features depend on; the others are read by the loss alone.
    const tower = new Set<Tensor>();
    for (const node of topoSort(Object.values(fresh))) for (const o of node.outputs) tower.add(o);
    const lossProbe = spec.loss(
      Object.fromEntries(
        features.map(({ name, shape }) => [name, input(`probe.${name}`, [k * micro, ...shape.slice(1)])]),
      ),
    );
    const direct = new Set<Tensor>();
    for (const node of topoSort([lossProbe.loss])) for (const o of node.outputs) direct.add(o);
    for (const p of trained)
      if (tower.has(p.value) && direct.has(p.value))
        throw new UserError(
          `AccumStep: parameter ${p.name} is used by both the features and the loss; its gradient cannot be split`,
        );

    const feedsOf = new Map<string, Float32Array>();
    for (const p of params) feedsOf.set(p.name, p.data);
    for (const b of buffers) feedsOf.set(b.name, b.data);
    const [featuresSession, microSession] = await Promise.all([
      // The forward-only pass runs without ONNX Runtime's memory arena (unless the caller says otherwise):
      // a second arena beside the micro-step's held 240 MB more at 128 × 4 pairs of the tiny preset
      // (2.06 vs 1.82 GB peak RSS), and fresh allocations cost a forward pass little.
      Session.create(featuresGraph, { arena: false, ...spec.session }),
      Session.create(microGraph, spec.session),
    ]);
    return new AccumStep(
      featuresSession,
      microSession,
      trained,
      feedsOf,
      buffers,
      features,
      Object.keys(metrics),
      k,
      micro,
      tower,
    );
  }

  /**
   * One step on `micro` (K micro-batches' data feeds): the loss, gradients and metrics of the whole batch.
   * `step` keys random ops, as TrainStep's (there are none: see above).
   */
  async run(micro: Record<string, Feed>[], step: number): Promise<StepResult> {
    const k = this.accum;
    if (micro.length !== k)
      throw new UserError(`AccumStep: expected ${k} micro-batches, got ${micro.length}`);
    const weights = (session: Session) => {
      const feeds: Record<string, Feed> = {};
      for (const spec of session.compiled.inputs) {
        const data = this.feedsOf.get(spec.name);
        if (data) feeds[spec.name] = data;
      }
      return feeds;
    };
    const fixed = weights(this.featuresSession);
    for (const [j, batch] of micro.entries()) {
      const out = await this.featuresSession.run({ ...fixed, ...batch }, { step });
      for (const f of this.features) {
        const n = sizeOf(f.shape);
        (this.cache.get(f.name) as Float32Array).set(out[`feature.${f.name}`]!.data as Float32Array, j * n);
      }
    }
    const cacheFeeds = Object.fromEntries(
      this.features.map((f) => [`cache.${f.name}`, this.cache.get(f.name)!]),
    );
    const rows = k * this.micro;
    const placement = new Int32Array(rows);
    let first: Record<string, RunTensor> | undefined;
    let grads: Float32Array[] = [];
    for (const [j, batch] of micro.entries()) {
      // Row r of the whole batch reads the cache, except micro-batch j's rows, which read the fresh features
      // (appended after the cache's rows).
      for (let r = 0; r < rows; r++) placement[r] = r;
      for (let i = 0; i < this.micro; i++) placement[j * this.micro + i] = rows + i;
      // Weights and buffers are read afresh: the previous micro-step may have updated batch statistics.
      const out = await this.microSession.run(
        { ...weights(this.microSession), ...batch, ...cacheFeeds, placement },
        { step },
      );
      for (const b of this.buffers) {
        const next = out[`buffer.${b.name}`];
        if (next) b.data.set(next.data as Float32Array);
      }
      const g = this.params.map((p) => out[`grad.${p.name}`]!.data as Float32Array);
      if (j === 0) {
        first = out;
        grads = g;
        continue;
      }
      for (const [i, acc] of grads.entries()) {
        if (!this.throughFeatures[i]) continue;
        const add = g[i] as Float32Array;
        for (let e = 0; e < acc.length; e++) acc[e] = (acc[e] as number) + (add[e] as number);
      }
    }
    let squares = 0;
    for (const g of grads) for (let e = 0; e < g.length; e++) squares += (g[e] as number) ** 2;
    const out = first as Record<string, RunTensor>;
    return {
      loss: out.loss!.data[0] as number,
      gradNorm: Math.sqrt(squares),
      grads,
      metrics: Object.fromEntries(this.metricNames.map((m) => [m, out[`metric.${m}`]!.data])),
    };
  }

  async release(): Promise<void> {
    await Promise.all([this.featuresSession.release(), this.microSession.release()]);
  }
}
