/**
 * `juxta export`: a model as ONNX files for transformers.js / ONNX Runtime (any family), or as a Hugging
 * Face or OpenCLIP folder (CLIP models).
 */
import { exportModel } from "../../export/index.js";
import { UserError } from "../../util/errors.js";
import { defineCommand } from "../command.js";

export const exportCommand = defineCommand({
  name: "export",
  summary:
    "export a model as ONNX (transformers.js layout; any method), a Hugging Face CLIPModel or an OpenCLIP folder",
  usage: "juxta export --model DIR --format onnx|hf|open_clip --out DIR [--tokenizer PATH] [--quantize q8]",
  help: [
    "DIR is a Juxta run, a Hugging Face CLIPModel folder or an OpenCLIP folder.",
    "onnx writes onnx/model.onnx, onnx/text_model.onnx, onnx/vision_model.onnx (fp32, standard ONNX ops)",
    "and config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json beside them: the",
    "layout transformers.js loads (e.g. pipeline('zero-shot-image-classification', <folder name>)).",
    "An image-only encoder (simclr, moco, supcon, triplet) exports as onnx only: onnx/model.onnx (pixel_values",
    "→ image_embeds, its backbone features), config.json and preprocessor_config.json, the layout of",
    "transformers.js's pipeline('image-feature-extraction', <folder name>).",
    "hf writes config.json and model.safetensors (Hugging Face names) with the same side files.",
    "open_clip writes open_clip_config.json and open_clip_model.safetensors (OpenCLIP's names) and",
    "tokenizer.json: the folder open_clip's hub loader reads, to continue training with open_clip/torchrun",
    "(juxta reads such a folder back as --model).",
    "--tokenizer gives a tokenizer to folders that have none (OpenCLIP's), e.g. bpe_simple_vocab_16e6.txt.gz.",
    "--quantize q8 is not available (no maintained npm quantizer); the command says so and stops.",
    "examples:",
    "  juxta export --model runs/clip --format onnx --out web/models/my-clip",
    "  juxta export --model runs/simclr --format onnx --out web/models/my-simclr",
    "  juxta export --model openclip-b32 --tokenizer bpe_simple_vocab_16e6.txt.gz --format hf --out b32-hf",
  ].join("\n"),
  options: {
    model: { type: "string" },
    format: { type: "string" },
    out: { type: "string" },
    tokenizer: { type: "string" },
    quantize: { type: "string" },
  },
  async run(values) {
    if (!values.model || !values.format || !values.out)
      throw new UserError("juxta export needs --model DIR, --format onnx|hf|open_clip and --out DIR");
    const start = performance.now();
    const files = exportModel(values.model, {
      format: values.format,
      out: values.out,
      tokenizer: values.tokenizer,
      quantize: values.quantize,
    });
    const seconds = ((performance.now() - start) / 1000).toFixed(1);
    console.log(`exported ${values.model} as ${values.format} to ${values.out} in ${seconds} s:`);
    for (const f of files) console.log(`  ${f}`);
  },
});
