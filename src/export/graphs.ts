/**
 * A CLIP model as the three portable ONNX graphs that Hugging Face's exporters write and transformers.js
 * loads (standard ops only, weights baked in as initializers, symbolic batch):
 *   text_model.onnx    input_ids int64 [batch, seq] → text_embeds, last_hidden_state
 *   vision_model.onnx  pixel_values float32 [batch, 3, S, S] → image_embeds
 *   model.onnx         both → logits_per_image, logits_per_text, text_embeds, image_embeds (normalized)
 * Tokenizers pad a batch to its longest text, not to the model's context, so the text graphs take any
 * length up to the context and pad it inside the graph: the text tower is causal and pools at the end-of-text
 * token, so padding after that token changes nothing.
 */
import { arange, compile, type Dim, input, type Tensor, type WeightFormat } from "../engine/index.js";
import type { OnnxModel, OnnxNode } from "../engine/onnx/model.js";
import type { CLIP } from "../models/clip.js";
import { TextTransformer } from "../models/text.js";
import { bind, l2Normalize, stateDict } from "../nn/index.js";

export interface ClipOnnxGraphs {
  text: OnnxModel;
  vision: OnnxModel;
  joint: OnnxModel;
}

/** Symbolic dims as Hugging Face's exports name them. */
const BATCH = "batch_size";
const TEXT_BATCH = "text_batch_size";
const IMAGE_BATCH = "image_batch_size";
const SEQ = "sequence_length";
/** The fixed-length ids the traced graph reads; made from `input_ids` by the padding nodes. */
const PADDED = "input_ids_padded";

/** The three graphs, their weights held as `weights` says (fp32, fp16 or q8: see engine/quantize.ts). */
export function clipOnnxGraphs(model: CLIP, weights: WeightFormat = "fp32"): ClipOnnxGraphs {
  model.eval();
  bind(model);
  const freeze = stateDict(model);
  const ctx = model.cfg.text.contextLength;
  const { imageSize: s } = model.cfg.vision;
  const opts = (name: string) => ({ freeze, contrib: false, name, weights });

  const ids = input(PADDED, [BATCH, ctx], "int64");
  const text = textForward(model, ids);
  const textGraph = compile(
    { text_embeds: text.embeds, last_hidden_state: text.hidden },
    opts("text_model"),
  ).model;
  padIdsInput(textGraph, ctx);
  sliceToInputLength(textGraph, "last_hidden_state");

  const pixels = input("pixel_values", [BATCH, 3, s, s]);
  const visionGraph = compile({ image_embeds: model.encodeImage(pixels) }, opts("vision_model")).model;

  const jointIds = input(PADDED, [TEXT_BATCH, ctx], "int64");
  const jointPixels = input("pixel_values", [IMAGE_BATCH, 3, s, s]);
  const textEmbeds = l2Normalize(textForward(model, jointIds).embeds);
  const imageEmbeds = l2Normalize(model.encodeImage(jointPixels));
  const logitsPerImage = imageEmbeds.matmul(textEmbeds, { transB: true }).mul(model.scale());
  const jointGraph = compile(
    {
      logits_per_image: logitsPerImage,
      logits_per_text: logitsPerImage.transpose([1, 0]),
      text_embeds: textEmbeds,
      image_embeds: imageEmbeds,
    },
    opts("model"),
  ).model;
  padIdsInput(jointGraph, ctx);
  return { text: textGraph, vision: visionGraph, joint: jointGraph };
}

/**
 * The text tower computed once for both outputs: every position through `ln_final` (Hugging Face's
 * last_hidden_state) and the end-of-text position projected. Juxta's tower pools before `ln_final`; a
 * per-row map, so the embeddings are the same.
 */
function textForward(model: CLIP, ids64: Tensor): { hidden: Tensor; embeds: Tensor } {
  const tower = model.text;
  if (!(tower instanceof TextTransformer)) throw new Error("internal: ONNX export needs CLIP's text tower");
  const { contextLength: t, width } = tower.cfg;
  const b = ids64.shape[0] as Dim;
  // ArgMax has no int64 kernel in ONNX Runtime's CPU provider; Juxta's graphs use int32 ids throughout.
  const ids = ids64.cast("int32");
  const x = tower.transformer.forward(
    tower.token_embedding.forward(ids).add(tower.positional_embedding.value),
  );
  const hidden = tower.ln_final.forward(x);
  const eot = ids.argmax(1).unsqueeze(1).eq(arange(t)).cast(hidden.dtype);
  const pooled = eot.unsqueeze(2).mul(hidden).sum(1).reshape([b, width]);
  return { hidden, embeds: pooled.matmul(tower.text_projection.value) };
}

/** Names of the nodes added around the traced graph (ONNX needs them unique within the graph). */
const LENGTH = "export_input_length";

/**
 * Replace the fixed-length graph input `input_ids_padded` [batch, ctx] by `input_ids` [batch, seq]: the
 * ids are padded with zeros up to ctx (a negative pad cuts a longer input, as ONNX's Pad defines).
 */
function padIdsInput(graph: OnnxModel, ctx: number): void {
  const at = graph.inputs.findIndex((v) => v.name === PADDED);
  if (at < 0) throw new Error(`internal: the text graph has no input '${PADDED}'`);
  const batch = graph.inputs[at]!.dims[0] as Dim;
  graph.inputs[at] = { name: "input_ids", dtype: "int64", dims: [batch, SEQ] };
  const int64 = (name: string, values: number[], dims: number[]) =>
    graph.initializers.push({ name, dtype: "int64", dims, data: BigInt64Array.from(values.map(BigInt)) });
  int64("export_axis1", [1], [1]);
  int64("export_context", [ctx], [1]);
  int64("export_zero_pads", [0, 0, 0], [3]);
  int64("export_pad_value", [0], []);
  const nodes: OnnxNode[] = [
    { op: "Shape", inputs: ["input_ids"], outputs: ["export_ids_shape"] },
    { op: "Gather", inputs: ["export_ids_shape", "export_axis1"], outputs: [LENGTH], attrs: { axis: 0 } },
    { op: "Sub", inputs: ["export_context", LENGTH], outputs: ["export_pad_end"] },
    {
      op: "Concat",
      inputs: ["export_zero_pads", "export_pad_end"],
      outputs: ["export_pads"],
      attrs: { axis: 0 },
    },
    {
      op: "Pad",
      inputs: ["input_ids", "export_pads", "export_pad_value"],
      outputs: [PADDED],
      attrs: { mode: "constant" },
    },
  ];
  graph.nodes.unshift(...nodes);
}

/** Cut a [batch, ctx, …] output back to the caller's sequence length (after {@link padIdsInput}). */
function sliceToInputLength(graph: OnnxModel, output: string): void {
  const full = `export_${output}_full`;
  for (const node of graph.nodes) node.outputs = node.outputs.map((o) => (o === output ? full : o));
  for (const node of graph.nodes) node.inputs = node.inputs.map((i) => (i === output ? full : i));
  graph.initializers.push({ name: "export_zero", dtype: "int64", dims: [1], data: new BigInt64Array(1) });
  graph.nodes.push({
    op: "Slice",
    inputs: [full, "export_zero", LENGTH, "export_axis1"],
    outputs: [output],
  });
  const info = graph.outputs.find((o) => o.name === output);
  if (!info) throw new Error(`internal: the graph has no output '${output}'`);
  info.dims = [info.dims[0]!, SEQ, ...info.dims.slice(2)];
}
