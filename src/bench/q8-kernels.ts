/**
 * Which ONNX Runtime CPU kernels run an int8 dense layer, attention block and convolution fastest: each
 * candidate lowering of one layer, at the tiny and b32 presets' shapes (batch 128 and 32), as a one-node
 * (or few-node) ONNX model, timed interleaved in one process so that all see the machine in the same state.
 * The fastest is what src/engine/quantize.ts emits; docs/quantization.md has the figures.
 */
import { availableParallelism } from "node:os";
import ort from "onnxruntime-node";
import type { OnnxModel, OnnxNode } from "../engine/onnx/model.js";
import { serializeModel } from "../engine/onnx/model.js";
import { fillNormal } from "../engine/random.js";
import { median, round } from "./timing.js";

type Init = OnnxModel["initializers"][number];

interface Candidate {
  name: string;
  nodes: OnnxNode[];
  inits: Init[];
}

const f32 = (name: string, dims: number[], seed: number, scale = 0.05): Init => {
  const data = fillNormal(new Float32Array(dims.reduce((p, d) => p * d, 1)), seed) as Float32Array;
  for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) * scale;
  return { name, dtype: "float32", dims, data };
};
const i8 = (name: string, dims: number[]): Init => {
  const data = new Int8Array(dims.reduce((p, d) => p * d, 1));
  for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 24) - 128;
  return { name, dtype: "int8", dims, data };
};
const u8 = (name: string, dims: number[], fill?: number): Init => {
  const data = new Uint8Array(dims.reduce((p, d) => p * d, 1));
  for (let i = 0; i < data.length; i++) data[i] = fill ?? (i * 2654435761) >>> 24;
  return { name, dtype: "uint8", dims, data };
};
const scales = (name: string, n: number): Init => ({
  name,
  dtype: "float32",
  dims: n === 1 ? [] : [n],
  data: new Float32Array(n).fill(0.002),
});
const int64 = (name: string, values: number[]): Init => ({
  name,
  dtype: "int64",
  dims: [values.length],
  data: BigInt64Array.from(values.map(BigInt)),
});
const MS = "com.microsoft";

/** Candidates for y = x·Wᵀ + b, x [rows, K], W [N, K]. */
function denseCandidates(k: number, n: number): Candidate[] {
  const dqlThen = (nodes: OnnxNode[]): OnnxNode[] => [
    { op: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["xq", "xs", "xz"] },
    ...nodes,
  ];
  const out: Candidate[] = [
    {
      name: "fp32 Gemm",
      nodes: [{ op: "Gemm", inputs: ["x", "w", "b"], outputs: ["y"], attrs: { transB: 1 } }],
      inits: [f32("w", [n, k], 1), f32("b", [n], 2)],
    },
    {
      name: "DynamicQuantizeMatMul",
      nodes: [
        { op: "DynamicQuantizeMatMul", inputs: ["x", "wq", "ws", "", "b"], outputs: ["y"], domain: MS },
      ],
      inits: [i8("wq", [k, n]), scales("ws", n), f32("b", [n], 2)],
    },
    {
      name: "MatMulInteger (standard ops)",
      nodes: dqlThen([
        { op: "MatMulInteger", inputs: ["xq", "wq", "xz", "wz"], outputs: ["acc"] },
        { op: "Cast", inputs: ["acc"], outputs: ["accf"], attrs: { to: 1 } },
        { op: "Mul", inputs: ["xs", "ws"], outputs: ["s"] },
        { op: "Mul", inputs: ["accf", "s"], outputs: ["p"] },
        { op: "Add", inputs: ["p", "b"], outputs: ["y"] },
      ]),
      inits: [
        i8("wq", [k, n]),
        { ...i8("wz", [n]), data: new Int8Array(n) },
        scales("ws", n),
        f32("b", [n], 2),
      ],
    },
    {
      name: "QLinearMatMul (static output scale)",
      nodes: dqlThen([
        {
          op: "QLinearMatMul",
          inputs: ["xq", "xs", "xz", "wq", "ws1", "wz1", "ys", "yz"],
          outputs: ["yq"],
        },
        { op: "DequantizeLinear", inputs: ["yq", "ys", "yz"], outputs: ["p"] },
        { op: "Add", inputs: ["p", "b"], outputs: ["y"] },
      ]),
      inits: [
        i8("wq", [k, n]),
        scales("ws1", 1),
        { name: "wz1", dtype: "int8", dims: [], data: new Int8Array(1) },
        scales("ys", 1),
        u8("yz", [], 128),
        f32("b", [n], 2),
      ],
    },
  ];
  for (const block of [32, 128]) {
    if (k % block) continue;
    out.push({
      name: `MatMulNBits 8-bit, block ${block}, int8 compute`,
      nodes: [
        {
          op: "MatMulNBits",
          inputs: ["x", "wq", "ws", "", "", "b"],
          outputs: ["y"],
          attrs: { K: k, N: n, bits: 8, block_size: block, accuracy_level: 4 },
          domain: MS,
        },
      ],
      inits: [u8("wq", [n, k / block, block]), scales("ws", (n * k) / block), f32("b", [n], 2)],
    });
  }
  return out;
}

/** Candidates for packed-q/k/v self-attention, x [B, T, D]. */
function attentionCandidates(d: number, heads: number): Candidate[] {
  return [
    {
      name: "fp32 Attention",
      nodes: [
        { op: "Attention", inputs: ["x", "w", "b"], outputs: ["y"], attrs: { num_heads: heads }, domain: MS },
      ],
      inits: [f32("w", [d, 3 * d], 1), f32("b", [3 * d], 2)],
    },
    {
      name: "QAttention (per-column weight scales)",
      nodes: [
        { op: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["xq", "xs", "xz"] },
        {
          op: "QAttention",
          inputs: ["xq", "wq", "b", "xs", "ws", "", "xz"],
          outputs: ["y"],
          attrs: { num_heads: heads },
          domain: MS,
        },
      ],
      inits: [i8("wq", [d, 3 * d]), scales("ws", 3 * d), f32("b", [3 * d], 2)],
    },
    {
      name: "DynamicQuantizeMatMul q/k/v + MultiHeadAttention",
      nodes: [
        { op: "DynamicQuantizeMatMul", inputs: ["x", "wq", "ws", "", "b"], outputs: ["qkv"], domain: MS },
        { op: "Split", inputs: ["qkv"], outputs: ["q", "k", "v"], attrs: { axis: 2 } },
        {
          op: "MultiHeadAttention",
          inputs: ["q", "k", "v"],
          outputs: ["y"],
          attrs: { num_heads: heads },
          domain: MS,
        },
      ],
      inits: [i8("wq", [d, 3 * d]), scales("ws", 3 * d), f32("b", [3 * d], 2)],
    },
    {
      name: "DynamicQuantizeMatMul q/k/v + standard-op attention",
      nodes: [
        { op: "DynamicQuantizeMatMul", inputs: ["x", "wq", "ws", "", "b"], outputs: ["qkv"], domain: MS },
        { op: "Reshape", inputs: ["qkv", "heads5"], outputs: ["qkv5"] },
        { op: "Transpose", inputs: ["qkv5"], outputs: ["qkvT"], attrs: { perm: [2, 0, 3, 1, 4] } },
        { op: "Split", inputs: ["qkvT"], outputs: ["q4", "k4", "v4"], attrs: { axis: 0 } },
        { op: "Squeeze", inputs: ["q4", "axis0"], outputs: ["q"] },
        { op: "Squeeze", inputs: ["k4", "axis0"], outputs: ["k"] },
        { op: "Squeeze", inputs: ["v4", "axis0"], outputs: ["v"] },
        {
          op: "FusedMatMul",
          inputs: ["q", "k"],
          outputs: ["scores"],
          attrs: { transB: 1, alpha: { f: 1 / Math.sqrt(d / heads) } },
          domain: MS,
        },
        { op: "Softmax", inputs: ["scores"], outputs: ["p"], attrs: { axis: -1 } },
        { op: "MatMul", inputs: ["p", "v"], outputs: ["ctx"] },
        { op: "Transpose", inputs: ["ctx"], outputs: ["ctxT"], attrs: { perm: [0, 2, 1, 3] } },
        { op: "Reshape", inputs: ["ctxT", "flat3"], outputs: ["y"] },
      ],
      inits: [
        i8("wq", [d, 3 * d]),
        scales("ws", 3 * d),
        f32("b", [3 * d], 2),
        int64("heads5", [0, 0, 3, heads, d / heads]),
        int64("axis0", [0]),
        int64("flat3", [0, 0, d]),
      ],
    },
    {
      name: "fp32 MatMul q/k/v + MultiHeadAttention",
      nodes: [
        { op: "MatMul", inputs: ["x", "w"], outputs: ["qkv0"] },
        { op: "Add", inputs: ["qkv0", "b"], outputs: ["qkv"] },
        { op: "Split", inputs: ["qkv"], outputs: ["q", "k", "v"], attrs: { axis: 2 } },
        {
          op: "MultiHeadAttention",
          inputs: ["q", "k", "v"],
          outputs: ["y"],
          attrs: { num_heads: heads },
          domain: MS,
        },
      ],
      inits: [f32("w", [d, 3 * d], 1), f32("b", [3 * d], 2)],
    },
  ];
}

/** Candidates for a convolution, x [B, C, H, W], weight [O, C, k, k]. */
function convCandidates(c: number, o: number, kernel: number, stride: number): Candidate[] {
  const pads = kernel === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0];
  const attrs = { kernel_shape: [kernel, kernel], strides: [stride, stride], pads };
  return [
    {
      name: "fp32 Conv",
      nodes: [{ op: "Conv", inputs: ["x", "w", "b"], outputs: ["y"], attrs }],
      inits: [f32("w", [o, c, kernel, kernel], 1), f32("b", [o], 2)],
    },
    {
      name: "ConvInteger (standard ops)",
      nodes: [
        { op: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["xq", "xs", "xz"] },
        { op: "ConvInteger", inputs: ["xq", "wq", "xz"], outputs: ["acc"], attrs },
        { op: "Cast", inputs: ["acc"], outputs: ["accf"], attrs: { to: 1 } },
        { op: "Mul", inputs: ["xs", "ws"], outputs: ["s"] },
        { op: "Mul", inputs: ["accf", "s"], outputs: ["p"] },
        { op: "Add", inputs: ["p", "b"], outputs: ["y"] },
      ],
      inits: [
        { ...u8("wq", [o, c, kernel, kernel]) },
        { name: "ws", dtype: "float32", dims: [1, o, 1, 1], data: new Float32Array(o).fill(0.002) },
        f32("b", [o, 1, 1], 2),
      ],
    },
  ];
}

async function sessionOf(c: Candidate, x: { dims: number[] }, yDims: (number | string)[]) {
  const model: OnnxModel = {
    nodes: c.nodes,
    initializers: c.inits,
    inputs: [{ name: "x", dtype: "float32", dims: x.dims }],
    outputs: [{ name: "y", dtype: "float32", dims: yDims }],
    opset: 17,
    domains: { [MS]: 1 },
  };
  return ort.InferenceSession.create(serializeModel(model), {
    intraOpNumThreads: availableParallelism(),
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
  });
}

interface Case {
  layer: string;
  x: number[];
  y: number[];
  candidates: Candidate[];
}

function cases(preset: string): Case[] {
  const [b, t, d, heads] = preset === "b32" ? [32, 50, 768, 12] : [128, 65, 256, 4];
  const rows = b * t;
  const dense = (k: number, n: number): Case => ({
    layer: `dense [${rows}, ${k}] → ${n}`,
    x: [rows, k],
    y: [rows, n],
    candidates: denseCandidates(k, n),
  });
  const size = preset === "b32" ? 224 : 64;
  const patch = preset === "b32" ? 32 : 8;
  return [
    dense(d, 3 * d),
    dense(d, d),
    dense(d, 4 * d),
    dense(4 * d, d),
    {
      layer: `attention [${b}, ${t}, ${d}], ${heads} heads`,
      x: [b, t, d],
      y: [b, t, d],
      candidates: attentionCandidates(d, heads),
    },
    {
      layer: `patch conv [${b}, 3, ${size}, ${size}] k${patch}`,
      x: [b, 3, size, size],
      y: [b, d, size / patch, size / patch],
      candidates: convCandidates(3, d, patch, patch),
    },
    ...(preset === "b32"
      ? []
      : [
          {
            layer: `resnet conv [${b}, 64, 16, 16] 3×3 → 64`,
            x: [b, 64, 16, 16],
            y: [b, 64, 16, 16],
            candidates: convCandidates(64, 64, 3, 1),
          },
        ]),
  ];
}

/** The timings as one flat record, `layer | kernel` → `ms (× fp32)`, as `juxta bench` prints suites. */
export async function benchQ8KernelsSuite(opts: { preset?: string; runs?: number } = {}) {
  // Shapes exist for two presets; any other (e.g. one given to every suite under --suite all) gets tiny's.
  const preset = opts.preset === "b32" ? "b32" : "tiny";
  const result: Record<string, unknown> = { suite: "int8", preset, runs: opts.runs ?? 9 };
  for (const t of await benchQ8Kernels({ ...opts, preset })) {
    result[`${t.layer} | ${t.kernel}`] = t.error ? `failed: ${t.error}` : `${t.ms} ms (${t.vs_fp32}× fp32)`;
  }
  return result;
}

export interface KernelTiming {
  preset: string;
  layer: string;
  kernel: string;
  ms?: number;
  vs_fp32?: number;
  error?: string;
}

/** Each candidate's median time per run (interleaved rounds), and its speed against the fp32 kernel. */
export async function benchQ8Kernels(opts: { preset?: string; runs?: number } = {}): Promise<KernelTiming[]> {
  const preset = opts.preset ?? "tiny";
  const runs = opts.runs ?? 9;
  const out: KernelTiming[] = [];
  for (const c of cases(preset)) {
    const n = c.x.reduce((p, d) => p * d, 1);
    const x = new ort.Tensor("float32", fillNormal(new Float32Array(n), 5) as Float32Array, c.x);
    const sessions = await Promise.all(
      c.candidates.map((cand) =>
        sessionOf(cand, { dims: c.x }, c.y).then(
          (s) => ({ s }),
          (e: Error) => ({ error: e.message.split("\n")[0] as string }),
        ),
      ),
    );
    const times: number[][] = c.candidates.map(() => []);
    for (let r = -1; r < runs; r++) {
      for (const [i, entry] of sessions.entries()) {
        if (!("s" in entry)) continue;
        const t0 = performance.now();
        await entry.s.run({ x });
        if (r >= 0) times[i]!.push(performance.now() - t0);
      }
    }
    const base = median(times[0]!);
    c.candidates.forEach((cand, i) => {
      const entry = sessions[i]!;
      if (!("s" in entry)) {
        out.push({ preset, layer: c.layer, kernel: cand.name, error: entry.error });
        return;
      }
      const ms = median(times[i]!);
      out.push({ preset, layer: c.layer, kernel: cand.name, ms: round(ms, 2), vs_fp32: round(base / ms, 2) });
    });
    for (const entry of sessions) if ("s" in entry) await entry.s.release();
  }
  return out;
}
