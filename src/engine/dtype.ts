/**
 * The one dtype table: each element type the engine knows, with its ONNX TensorProto code, the typed array
 * that holds its values, and whether ops compute in it. The ONNX writer, the compiler's constants, the
 * session's feed checks and the op table's float checks all read this table.
 */

export type DType = "float32" | "float64" | "float16" | "int64" | "int32" | "int8" | "uint8" | "bool";

export type TypedArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Uint8Array
  | Int8Array
  | Uint16Array;

interface DTypeInfo {
  /** ONNX TensorProto.DataType. */
  onnx: number;
  /** The typed array that holds the values (float16 as Uint16Array bit patterns, bool as bytes). */
  array: new (
    n: number,
  ) => TypedArray;
  /**
   * Whether float ops (matmul, exp, reductions, gradients) compute in this type. float16 is storage only:
   * half-size weights are widened to float32 inside the graph (this CPU has no fast float16 arithmetic).
   */
  float: boolean;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  float32: { onnx: 1, array: Float32Array, float: true },
  uint8: { onnx: 2, array: Uint8Array, float: false },
  int8: { onnx: 3, array: Int8Array, float: false },
  int32: { onnx: 6, array: Int32Array, float: false },
  int64: { onnx: 7, array: BigInt64Array, float: false },
  bool: { onnx: 9, array: Uint8Array, float: false },
  float16: { onnx: 10, array: Uint16Array, float: false },
  float64: { onnx: 11, array: Float64Array, float: true },
};

/** Whether float ops compute in this dtype (float32, float64). */
export const isFloatDType = (dtype: DType): boolean => DTYPES[dtype].float;

/** A typed array of the right class for a dtype, holding these values (float16 needs bit patterns). */
export function toTyped(values: ArrayLike<number> | TypedArray, dtype: DType): TypedArray {
  const Array_ = DTYPES[dtype].array;
  if (values instanceof Array_) return values as TypedArray;
  if (dtype === "float16") throw new Error("float16 constants must be given as Uint16Array bit patterns");
  const src = values as ArrayLike<number | bigint>;
  const out = new Array_(src.length);
  if (out instanceof BigInt64Array)
    for (let i = 0; i < src.length; i++) out[i] = BigInt(Math.trunc(Number(src[i])));
  else for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  return out;
}
