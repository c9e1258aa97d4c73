/**
 * `juxta export`: a model as ONNX files for transformers.js / ONNX Runtime (any family), or as a Hugging
 * Face or OpenCLIP folder (CLIP models).
 */
import { WEIGHT_FORMATS } from "../../engine/index.js";
import { EXPORT_FORMATS, exportModel } from "../../export/index.js";
import { defineCommand } from "../command.js";

export const exportCommand = defineCommand({
  name: "export",
  summary:
    "export a model as ONNX (transformers.js layout; any method), a Hugging Face CLIPModel or an OpenCLIP folder",
  usage:
    "juxta export --model DIR --format onnx|hf|open_clip --out DIR [--tokenizer PATH] [--dtype fp32|fp16|q8]",
  intro: "DIR is a Juxta run, a Hugging Face CLIPModel folder or an OpenCLIP folder.",
  options: {
    model: { type: "string", arg: "DIR", required: true, help: "the model to export" },
    format: { type: "choice", choices: EXPORT_FORMATS, required: true, help: "the layout to write (below)" },
    out: { type: "string", arg: "DIR", required: true, help: "the folder to write" },
    tokenizer: {
      type: "string",
      arg: "PATH",
      help: "a tokenizer for folders that have none (OpenCLIP's), e.g. bpe_simple_vocab_16e6.txt.gz",
    },
    dtype: {
      type: "choice",
      choices: WEIGHT_FORMATS,
      default: "fp32",
      aliases: ["quantize"],
      help: "onnx weight precision: q8 (int8) or fp16, under transformers.js's names for its dtype option",
    },
  },
  notes: [
    "onnx writes onnx/model.onnx, onnx/text_model.onnx, onnx/vision_model.onnx (fp32, standard ONNX ops)",
    "and config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json beside them: the",
    "layout transformers.js loads (e.g. pipeline('zero-shot-image-classification', <folder name>)).",
    "--dtype q8 writes onnx/*_quantized.onnx (int8 weights, dynamic int8 activations) and --dtype fp16",
    "onnx/*_fp16.onnx (half-size weights, float32 math): what transformers.js loads with { dtype: 'q8' }",
    "or { dtype: 'fp16' }. Export into the same folder once per dtype to ship several.",
    "An image-only encoder (simclr, moco, supcon, triplet) exports as onnx only: onnx/model.onnx (pixel_values",
    "→ image_embeds, its backbone features), config.json and preprocessor_config.json, the layout of",
    "transformers.js's pipeline('image-feature-extraction', <folder name>).",
    "hf writes config.json and model.safetensors (Hugging Face names) with the same side files.",
    "open_clip writes open_clip_config.json and open_clip_model.safetensors (OpenCLIP's names) and",
    "tokenizer.json: the folder open_clip's hub loader reads, to continue training with open_clip/torchrun",
    "(juxta reads such a folder back as --model).",
    "examples:",
    "  juxta export --model runs/clip --format onnx --out web/models/my-clip",
    "  juxta export --model runs/simclr --format onnx --out web/models/my-simclr",
    "  juxta export --model openclip-b32 --tokenizer bpe_simple_vocab_16e6.txt.gz --format hf --out b32-hf",
  ],
  async run(values) {
    const start = performance.now();
    const files = exportModel(values.model, {
      format: values.format,
      out: values.out,
      tokenizer: values.tokenizer,
      dtype: values.dtype,
    });
    const seconds = ((performance.now() - start) / 1000).toFixed(1);
    console.log(`exported ${values.model} as ${values.format} to ${values.out} in ${seconds} s:`);
    for (const f of files) console.log(`  ${f}`);
  },
});
