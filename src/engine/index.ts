/** The Juxta engine: traced tensors → reverse-mode autodiff → one ONNX model → ONNX Runtime. */
import "./ops/index.js";

export { type Compiled, type CompileOptions, compile, type RandomSpec, type TensorSpec } from "./compile.js";
export { grad, topoSort } from "./grad.js";
export { quantizeWeights, WEIGHT_FORMATS, type WeightFormat } from "./quantize.js";
export { type Feed, type RunTensor, Session, type SessionOptions } from "./session.js";
export { type Dim, fmt, type Shape, ShapeError, sizeOf } from "./shape.js";
export {
  arange,
  concat,
  constant,
  conv2d,
  type DType,
  input,
  random,
  scalar,
  Tensor,
  type TensorLike,
  type TypedArray,
  where,
} from "./tensor.js";
