/**
 * The ONNX model we emit: nodes, initializers and typed graph inputs/outputs, serialized with our own
 * protobuf writer (field numbers from onnx/onnx.proto).
 */
import { DTYPES, type DType, type TypedArray } from "../dtype.js";
import { ProtoWriter } from "./protobuf.js";

export type { DType, TypedArray } from "../dtype.js";

/** Attribute values: integers are INT, `{ f }` is FLOAT, arrays of integers are INTS, `{ floats }` FLOATS. */
export type Attr = number | string | number[] | { f: number } | { floats: number[] } | { tensor: OnnxTensor };
export type Attrs = Record<string, Attr | undefined>;

export interface OnnxTensor {
  name?: string;
  dtype: DType;
  dims: readonly number[];
  data: TypedArray;
}

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Attrs;
  domain?: string;
  name?: string;
}

export interface ValueInfo {
  name: string;
  dtype: DType;
  /** A string is a symbolic dimension (e.g. "batch"). */
  dims: readonly (number | string)[];
}

export interface OnnxModel {
  nodes: OnnxNode[];
  initializers: (OnnxTensor & { name: string })[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  opset?: number;
  /** Extra operator domains, e.g. { "com.microsoft": 1 } for ONNX Runtime's contrib ops. */
  domains?: Record<string, number>;
  name?: string;
  metadata?: Record<string, string>;
}

export const DEFAULT_OPSET = 17;

function tensorBytes(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function writeTensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  w.packedInts(1, t.dims);
  w.int(2, DTYPES[t.dtype].onnx);
  if (t.name !== undefined) w.string(8, t.name);
  w.bytes(9, tensorBytes(t.data));
  return w;
}

function writeAttr(name: string, value: Attr): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === "number") {
    if (!Number.isInteger(value))
      throw new Error(`ONNX attribute ${name}: ${value} is not an integer; use { f }`);
    w.int(20, 2).int(3, value);
  } else if (typeof value === "string") {
    w.int(20, 3).string(4, value);
  } else if (Array.isArray(value)) {
    w.int(20, 7).packedInts(8, value);
  } else if ("f" in value) {
    w.int(20, 1).float(2, value.f);
  } else if ("floats" in value) {
    w.int(20, 6).packedFloats(7, value.floats);
  } else {
    w.int(20, 4).message(5, writeTensor(value.tensor));
  }
  return w;
}

function writeValueInfo(v: ValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) {
    const dim = new ProtoWriter();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, DTYPES[v.dtype].onnx).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

/** Serialize to ONNX protobuf bytes (IR version 8). */
export function serializeModel(m: OnnxModel): Uint8Array {
  const g = new ProtoWriter();
  m.nodes.forEach((n, i) => {
    const w = new ProtoWriter();
    for (const x of n.inputs) w.string(1, x);
    for (const y of n.outputs) w.string(2, y);
    w.string(3, n.name ?? `${n.op}_${i}`);
    w.string(4, n.op);
    for (const [k, v] of Object.entries(n.attrs ?? {})) if (v !== undefined) w.message(5, writeAttr(k, v));
    if (n.domain) w.string(7, n.domain);
    g.message(1, w);
  });
  g.string(2, m.name ?? "juxta");
  for (const t of m.initializers) g.message(5, writeTensor(t));
  for (const v of m.inputs) g.message(11, writeValueInfo(v));
  for (const v of m.outputs) g.message(12, writeValueInfo(v));

  const model = new ProtoWriter().int(1, 8);
  model.string(2, "juxta").string(3, "0.1.0");
  model.message(7, g);
  model.message(8, new ProtoWriter().string(1, "").int(2, m.opset ?? DEFAULT_OPSET));
  for (const [domain, version] of Object.entries(m.domains ?? {})) {
    model.message(8, new ProtoWriter().string(1, domain).int(2, version));
  }
  for (const [k, v] of Object.entries(m.metadata ?? {})) {
    model.message(14, new ProtoWriter().string(1, k).string(2, v));
  }
  return model.finish();
}
