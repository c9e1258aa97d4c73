/** `juxta/engine`: traced tensors, reverse-mode autodiff, compilation to one ONNX model, ONNX Runtime sessions. */
export * from "../engine/index.js";
