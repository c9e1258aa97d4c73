/** `juxta/export`: models as ONNX (transformers.js layout) or Hugging Face folders. */
export * from "../export/index.js";
