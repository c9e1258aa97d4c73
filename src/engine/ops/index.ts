/**
 * The op table: every op the engine knows, each with its shape rule, its ONNX lowering and its gradient
 * rule, one file per family. Gradient rules are written with the same traced ops, so the backward graph is
 * ONNX too (ONNX Runtime's npm build has no training kernels). Lowerings tuned for ONNX Runtime's CPU
 * kernels are gathered in ort-cpu.ts; each op offers its node there first and falls back to plain ONNX.
 *
 *   leaves.ts       input, constant, random
 *   elementwise.ts  add … pow, comparisons, exp … gelu, clip, cast, where
 *   linalg.ts       matmul, linear, attention (inference)
 *   reduce.ts       sum, mean, max, argmax, softmax, logSoftmax
 *   layout.ts       reshape, transpose, expand, slice, pad, concat, split, gather, scatterAdd
 *   nn.ts           layerNorm, conv2d (and its two gradient ops)
 *
 * Adding an op: declare its attributes in OpAttrs, `defineOp` its rules in its family's file, add a method
 * on Tensor (or a function in tensor.ts), and a gradient check in test/engine/grad.test.ts.
 */
import "./leaves.js";
import "./elementwise.js";
import "./linalg.js";
import "./reduce.js";
import "./layout.js";
import "./nn.js";

export { unbroadcast } from "./common.js";
