/**
 * Running compiled graphs with ONNX Runtime. Inputs are passed zero-copy from the caller's typed arrays;
 * each output comes back as a fresh typed array (onnxruntime-node copies outputs). `run` blocks the event
 * loop while ONNX Runtime computes, so overlapping work belongs in worker threads.
 */
import { availableParallelism } from "node:os";
import ort from "onnxruntime-node";
import { UserError } from "../util/errors.js";
import type { Compiled, TensorSpec } from "./compile.js";
import { DTYPES, type TypedArray } from "./dtype.js";
import { serializeModel } from "./onnx/model.js";
import { fillNormal, fillUniform, streamKey } from "./random.js";
import { fmt } from "./shape.js";

export interface SessionOptions {
  /** Intra-op threads; default: all cores. */
  threads?: number;
  optimization?: "disabled" | "basic" | "extended" | "all";
  /** Write an ONNX Runtime profile (JSON) with this file prefix. */
  profile?: string;
  /**
   * ONNX Runtime's CPU memory arena; default on. Without it every activation is a fresh allocation that the
   * kernel pages in anew at each run: a tiny CLIP training step (batch 128) took ~1.6 M page faults per 5
   * steps and ~10 % longer. The memory-pattern planner stays off: with the arena it doubled peak memory
   * (2.9 vs 1.6 GB) and without it it allocates one fresh block per run (the same page faults).
   */
  arena?: boolean;
  /**
   * Whether idle intra-op threads spin-wait for the next op (ONNX Runtime's default, on) or sleep. Spinning
   * saves a wake-up per op to a process that has the cores to itself (training); a server whose other
   * threads (the HTTP loop, the index scan) need the same cores turns it off.
   */
  spinning?: boolean;
}

export interface RunTensor {
  data: TypedArray;
  dims: number[];
}

export type Feed = TypedArray | RunTensor;

export class Session {
  private runs = 0;
  private readonly randomBuffers: Map<string, Float32Array | Float64Array>;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly compiled: Compiled,
  ) {
    this.randomBuffers = new Map(
      compiled.randoms.map((r) => {
        const n = r.shape.reduce<number>((p, d) => p * (d as number), 1);
        return [r.name, r.dtype === "float64" ? new Float64Array(n) : new Float32Array(n)];
      }),
    );
  }

  static async create(compiled: Compiled, opts: SessionOptions = {}): Promise<Session> {
    const bytes = serializeModel(compiled.model);
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: opts.optimization ?? "all",
      enableCpuMemArena: opts.arena ?? true,
      enableMemPattern: false,
      logSeverityLevel: 3,
      enableProfiling: opts.profile !== undefined,
      profileFilePrefix: opts.profile,
      ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: "0" } } } } : {}),
    });
    return new Session(session, compiled);
  }

  /**
   * Run once. `step` keys the random inputs (default: a counter of runs), so that a resumed run draws
   * the same numbers as an uninterrupted one.
   */
  async run(feeds: Record<string, Feed>, opts: { step?: number } = {}): Promise<Record<string, RunTensor>> {
    const step = opts.step ?? this.runs;
    this.runs++;
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const spec of this.compiled.inputs) {
      const feed = feeds[spec.name];
      if (feed === undefined)
        throw new UserError(`run: missing input '${spec.name}' ${fmt(spec.shape)} ${spec.dtype}`);
      const { data, dims } = toRunTensor(feed, spec);
      ortFeeds[spec.name] = new ort.Tensor(spec.dtype as "float32", data as Float32Array, dims);
    }
    for (const [name] of Object.entries(feeds)) {
      if (!this.compiled.inputs.some((s) => s.name === name))
        throw new UserError(`run: the graph has no input '${name}'`);
    }
    for (const r of this.compiled.randoms) {
      const buf = this.randomBuffers.get(r.name) as Float32Array;
      const key = streamKey(r.seed, step, r.name);
      if (r.distribution === "normal") fillNormal(buf, key);
      else fillUniform(buf, key);
      ortFeeds[r.name] = new ort.Tensor(r.dtype as "float32", buf, r.shape as number[]);
    }
    const result = await this.session.run(ortFeeds);
    const out: Record<string, RunTensor> = {};
    for (const spec of this.compiled.outputs) {
      const t = result[spec.name] as ort.Tensor;
      out[spec.name] = { data: t.data as TypedArray, dims: [...t.dims] };
    }
    return out;
  }

  endProfiling(): string {
    return this.session.endProfiling() as unknown as string;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Check a feed against its spec; infer symbolic dims from the data length when only one is symbolic. */
function toRunTensor(feed: Feed, spec: TensorSpec): RunTensor {
  const data = ArrayBuffer.isView(feed) ? feed : feed.data;
  const Expected = DTYPES[spec.dtype].array;
  if (!(data instanceof Expected)) {
    throw new UserError(
      `run: input '${spec.name}' must be a ${Expected.name} (${spec.dtype}), got ${data.constructor.name}`,
    );
  }
  let dims: number[];
  if (!ArrayBuffer.isView(feed)) {
    dims = feed.dims;
    const ok =
      dims.length === spec.shape.length && spec.shape.every((d, i) => typeof d !== "number" || d === dims[i]);
    if (!ok) throw new UserError(`run: input '${spec.name}' has dims [${dims}], expected ${fmt(spec.shape)}`);
  } else {
    const symbolic = spec.shape.filter((d) => typeof d !== "number").length;
    const known = spec.shape.reduce<number>((p, d) => p * (typeof d === "number" ? d : 1), 1);
    if (symbolic > 1) throw new UserError(`run: input '${spec.name}' ${fmt(spec.shape)} needs explicit dims`);
    const free = known === 0 ? 0 : data.length / known;
    if (!Number.isInteger(free)) {
      throw new UserError(
        `run: input '${spec.name}' has ${data.length} values, not a multiple of ${known} for ${fmt(spec.shape)}`,
      );
    }
    dims = spec.shape.map((d) => (typeof d === "number" ? d : free));
  }
  const n = dims.reduce((p, d) => p * d, 1);
  if (n !== data.length)
    throw new UserError(`run: input '${spec.name}' has ${data.length} values, dims [${dims}] need ${n}`);
  return { data, dims };
}
