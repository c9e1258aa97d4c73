/**
 * Modules own named parameters (dotted paths such as `blocks.3.attn.in_proj.weight`, found by walking the
 * module's fields like PyTorch's registration) and buffers (non-trained state such as BatchNorm's running
 * statistics). Initialization is seeded per parameter name, so it does not depend on construction order.
 */
import { type DType, input, type Tensor } from "../engine/index.js";
import { fillNormal, fillTruncNormal, fillUniform, streamKey } from "../engine/random.js";

export type Init =
  | { kind: "zeros" }
  | { kind: "ones" }
  | { kind: "constant"; value: number }
  | { kind: "normal"; std: number }
  | { kind: "truncNormal"; std: number }
  | { kind: "uniform"; bound: number };

/** Above 0 while `shapesOnly` builds: parameters and buffers then get no storage. */
let shapesOnlyDepth = 0;

/**
 * Run `build` with parameters and buffers that have names and shapes but no storage (empty data), to
 * learn what a model would allocate without allocating it (a config checked against a weights file).
 */
export function shapesOnly<T>(build: () => T): T {
  shapesOnlyDepth++;
  try {
    return build();
  } finally {
    shapesOnlyDepth--;
  }
}

function storage(shape: readonly number[]): Float32Array {
  return new Float32Array(shapesOnlyDepth > 0 ? 0 : shape.reduce((a, b) => a * b, 1));
}

export class Parameter {
  /** Dotted path, assigned when the owning model is walked. */
  name = "";
  data: Float32Array;
  /** The traced tensor standing for this parameter in the graph being built. */
  private traced?: Tensor;

  constructor(
    readonly shape: readonly number[],
    public init: Init,
    /** Whether AdamW's decoupled weight decay applies (off for gains, biases, embeddings, temperature). */
    readonly decay = shape.length >= 2,
  ) {
    this.data = storage(shape);
  }

  get value(): Tensor {
    if (!this.traced)
      throw new Error(`parameter '${this.name}' is not bound to a graph (call bind(model) first)`);
    return this.traced;
  }
  set value(t: Tensor) {
    this.traced = t;
  }

  get size(): number {
    return this.data.length;
  }

  /** Fill `data` from `init`, keyed by (seed, name). */
  initialize(seed: number): void {
    const key = streamKey(seed, this.name);
    const i = this.init;
    if (i.kind === "zeros") this.data.fill(0);
    else if (i.kind === "ones") this.data.fill(1);
    else if (i.kind === "constant") this.data.fill(i.value);
    else if (i.kind === "normal") fillNormal(this.data, key, 0, i.std);
    else if (i.kind === "truncNormal") fillTruncNormal(this.data, key, i.std);
    else fillUniform(this.data, key, -i.bound, i.bound);
  }
}

/** Non-trained state carried from step to step (e.g. running mean); `next` is its new value after a step. */
export class Buffer {
  name = "";
  data: Float32Array;
  private traced?: Tensor;
  /** Set by the module's forward pass in training mode: the value to store after the step. */
  next?: Tensor;

  constructor(
    readonly shape: readonly number[],
    fill: number,
  ) {
    this.data = storage(shape).fill(fill);
  }
  get value(): Tensor {
    if (!this.traced) throw new Error(`buffer '${this.name}' is not bound to a graph`);
    return this.traced;
  }
  set value(t: Tensor) {
    this.traced = t;
  }
}

export abstract class Module {
  training = true;

  /** Parameters with their dotted names, in field order; names are (re)assigned on every call. */
  parameters(prefix = ""): Parameter[] {
    const out: Parameter[] = [];
    this.walk(prefix, (name, p) => {
      if (p instanceof Parameter) {
        p.name = name;
        out.push(p);
      }
    });
    return out;
  }

  buffers(prefix = ""): Buffer[] {
    const out: Buffer[] = [];
    this.walk(prefix, (name, b) => {
      if (b instanceof Buffer) {
        b.name = name;
        out.push(b);
      }
    });
    return out;
  }

  /** Visit parameters and buffers of this module and its children (fields, arrays of modules). */
  private walk(prefix: string, visit: (name: string, leaf: Parameter | Buffer) => void): void {
    for (const [key, value] of Object.entries(this)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (value instanceof Parameter || value instanceof Buffer) visit(name, value);
      else if (value instanceof Module) value.walk(name, visit);
      else if (Array.isArray(value)) {
        value.forEach((item, i) => {
          if (item instanceof Module) item.walk(`${name}.${i}`, visit);
          else if (item instanceof Parameter || item instanceof Buffer) visit(`${name}.${i}`, item);
        });
      }
    }
  }

  /** Submodules, depth first (this one included). */
  modules(): Module[] {
    const out: Module[] = [this];
    for (const value of Object.values(this)) {
      if (value instanceof Module) out.push(...value.modules());
      else if (Array.isArray(value))
        for (const item of value) if (item instanceof Module) out.push(...item.modules());
    }
    return out;
  }

  /** Seeded initialization of every parameter (by name, so construction order does not matter). */
  initialize(seed: number): this {
    for (const p of this.parameters()) p.initialize(seed);
    return this;
  }

  /** Switch training behaviour (dropout, batch statistics) for this module and all children. */
  train(on = true): this {
    for (const m of this.modules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  get parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }
}

/** Make every parameter and buffer a graph input named by its path; returns them in order. */
export function bind(model: Module, dtype: DType = "float32"): { params: Parameter[]; buffers: Buffer[] } {
  const params = model.parameters();
  for (const p of params) p.value = input(p.name, p.shape, dtype);
  const buffers = model.buffers();
  for (const b of buffers) {
    b.value = input(b.name, b.shape, dtype);
    b.next = undefined;
  }
  return { params, buffers };
}

/** Name → data of every parameter and buffer (for freezing weights into an inference graph or saving). */
export function stateDict(model: Module): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of model.parameters()) out.set(p.name, p.data);
  for (const b of model.buffers()) out.set(b.name, b.data);
  return out;
}
