/**
 * Issue 11, case 11: Hugging Face, OpenCLIP and Juxta configs with absurd sizes are refused with one line
 * (file, field, what was expected) before anything is allocated, and configs are checked against the
 * weights file's header (tensor names and shapes, read without the data) before the model is built.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { exportHf } from "../../src/export/hf.js";
import { exportOpenClip } from "../../src/export/openclip.js";
import { readSafetensorsHeader, writeSafetensors } from "../../src/io/safetensors.js";
import { CLIP } from "../../src/models/clip.js";
import { plannedShapes } from "../../src/models/config-check.js";
import { ImageEncoder, imageEncoderConfig } from "../../src/models/image-encoder.js";
import { loadClip, saveImageEncoder } from "../../src/models/saved.js";
import { shapesOnly } from "../../src/nn/module.js";
import { loadModel } from "../../src/pretrained/open.js";
import { UserError } from "../../src/util/errors.js";
import { tempDir, tinyConfig, tinyModel } from "../apps/fixtures.js";
import { assertOneLineError, juxta } from "./cli.js";

// biome-ignore lint/suspicious/noExplicitAny: the tests edit arbitrary fields of parsed JSON files
type Json = Record<string, any>;
let juxtaDir: string;
let hfDir: string;
let openClipDir: string;

/** A copy of `dir` whose `file` (JSON) is edited by `edit`. */
function edited(dir: string, file: string, edit: (j: Json) => void): string {
  const out = tempDir();
  for (const name of [
    "juxta.json",
    "model.safetensors",
    "tokenizer.json",
    "config.json",
    "open_clip_config.json",
    "open_clip_model.safetensors",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "preprocessor_config.json",
  ]) {
    try {
      writeFileSync(join(out, name), readFileSync(join(dir, name)));
    } catch {
      // each format has only some of these files
    }
  }
  const j = JSON.parse(readFileSync(join(out, file), "utf8"));
  edit(j);
  writeFileSync(join(out, file), JSON.stringify(j));
  return out;
}

/** Loading refuses with one UserError line matching `pattern`. */
function refused(dir: string, pattern: RegExp): void {
  assert.throws(
    () => loadModel(dir),
    (e: Error) => {
      assert.ok(e instanceof UserError, `${e.name}: ${e.message}`);
      assert.ok(!e.message.includes("\n"), e.message);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

before(() => {
  juxtaDir = tinyModel();
  const loaded = loadClip(juxtaDir);
  hfDir = tempDir();
  exportHf(loaded, hfDir);
  openClipDir = tempDir();
  exportOpenClip(loaded, openClipDir);
});

describe("case 11: absurd sizes are refused before any allocation", () => {
  test("the fixtures load as they are", () => {
    for (const dir of [juxtaDir, hfDir, openClipDir]) loadModel(dir);
  });

  test("Hugging Face config.json", () => {
    const hf = (edit: (j: Json) => void) => edited(hfDir, "config.json", edit);
    refused(
      hf((j) => {
        j.vision_config.hidden_size = 1e9;
      }),
      /config\.json: field 'vision_config\.hidden_size' is 1000000000; expected a whole number from 1 to 65,536$/,
    );
    refused(
      hf((j) => {
        j.vision_config.patch_size = 0;
      }),
      /config\.json: field 'vision_config\.patch_size' is 0; expected a whole number from 1 to 16/,
    );
    refused(
      hf((j) => {
        j.text_config.num_hidden_layers = 1e6;
      }),
      /field 'text_config\.num_hidden_layers' is 1000000; expected a whole number from 1 to 1,024/,
    );
    refused(
      hf((j) => {
        j.text_config.num_attention_heads = -2;
      }),
      /field 'text_config\.num_attention_heads' is -2; expected a whole number/,
    );
    refused(
      hf((j) => {
        j.vision_config.num_hidden_layers = 1.5;
      }),
      /field 'vision_config\.num_hidden_layers' is 1\.5; expected a whole number/,
    );
    refused(
      hf((j) => {
        j.vision_config.num_attention_heads = 3;
      }),
      /field 'vision_config\.num_attention_heads' is 3; expected a divisor of the width 32/,
    );
    refused(
      hf((j) => {
        j.vision_config.image_size = 20;
      }),
      /field 'vision_config\.patch_size' is 8; expected a divisor of the image size 20/,
    );
    refused(
      hf((j) => {
        j.text_config.intermediate_size = 0;
      }),
      /field 'text_config\.intermediate_size' is 0; expected a whole number from 1/,
    );
    refused(
      hf((j) => {
        j.projection_dim = "16";
      }),
      /field 'projection_dim' must be a number, got "16"/,
    );
  });

  test("OpenCLIP open_clip_config.json", () => {
    const oc = (edit: (j: Json) => void) => edited(openClipDir, "open_clip_config.json", edit);
    refused(
      oc((j) => {
        j.model_cfg.vision_cfg.width = 1e9;
      }),
      /open_clip_config\.json: field 'model_cfg\.vision_cfg\.head_width' is \d+; expected a whole number dividing|field 'model_cfg\.vision_cfg\.width' is 1000000000/,
    );
    refused(
      oc((j) => {
        j.model_cfg.vision_cfg.patch_size = 0;
      }),
      /field 'model_cfg\.vision_cfg\.patch_size' is 0; expected a whole number/,
    );
    refused(
      oc((j) => {
        j.model_cfg.vision_cfg.head_width = 0;
      }),
      /field 'model_cfg\.vision_cfg\.head_width' is 0; expected a whole number dividing the width 32/,
    );
    refused(
      oc((j) => {
        j.model_cfg.text_cfg.layers = 1e6;
      }),
      /field 'model_cfg\.text_cfg\.layers' is 1000000; expected a whole number from 1 to 1,024/,
    );
    refused(
      oc((j) => {
        j.model_cfg.text_cfg.heads = 5;
      }),
      /field 'model_cfg\.text_cfg\.heads' is 5; expected a divisor of the width 32/,
    );
  });

  test("juxta.json", () => {
    const jx = (edit: (j: Json) => void) => edited(juxtaDir, "juxta.json", edit);
    refused(
      jx((j) => {
        j.model.vision.width = 1e9;
      }),
      /juxta\.json: field 'model\.vision\.width' is 1000000000; expected a whole number from 1 to 65,536/,
    );
    refused(
      jx((j) => {
        j.model.vision.patchSize = 0;
      }),
      /field 'model\.vision\.patchSize' is 0/,
    );
    refused(
      jx((j) => {
        j.model.vision.type = "vit2";
      }),
      /field 'model\.vision\.type' is "vit2"; expected "vit", "siglip" or "resnet"/,
    );
    refused(
      jx((j) => {
        delete j.model.text;
      }),
      /field 'model\.text' is missing; expected an object/,
    );
    refused(
      jx((j) => {
        j.model.text.lnEps = -1;
      }),
      /field 'model\.text\.lnEps' is -1; expected a positive number/,
    );
  });

  test("an image encoder's juxta.json (ResNet backbone, projection head)", () => {
    const dir = tempDir();
    saveImageEncoder(dir, new ImageEncoder(imageEncoderConfig("resnet-tiny")).initialize(0), { step: 0 });
    loadModel(dir);
    const ie = (edit: (j: Json) => void) => edited(dir, "juxta.json", edit);
    refused(
      ie((j) => {
        j.model.backbone.widths[1] = 1e9;
      }),
      /juxta\.json: field 'model\.backbone\.widths\[1\]' is 1000000000; expected a whole number from 1 to 65,536/,
    );
    refused(
      ie((j) => {
        j.model.backbone.blocks = [1, 1];
      }),
      /field 'model\.backbone\.blocks' is \[1,1\]; expected one entry per stage/,
    );
    refused(
      ie((j) => {
        j.model.head.out = 0;
      }),
      /field 'model\.head\.out' is 0; expected a whole number/,
    );
    refused(
      ie((j) => {
        j.model.backbone.blocks = [1, 2, 1, 1];
      }),
      /model\.safetensors: tensor 'backbone\.layers\.2\.conv1\.weight' has shape \[64, 32, 3, 3\], the model's config needs \[32, 32, 3, 3\]/,
    );
  });

  test("a juxta.json with 10^6 layers is one line under a 200 MB heap, at once", () => {
    const dir = edited(juxtaDir, "juxta.json", (j) => {
      j.model.text.layers = 1e6;
    });
    assertOneLineError(
      juxta(["embed", "--model", dir, "--texts", join(dir, "juxta.json"), "--out", join(dir, "e.npy")], {
        nodeArgs: ["--max-old-space-size=200"],
        timeoutMs: 30_000,
      }),
      /juxta\.json: field 'model\.text\.layers' is 1000000; expected a whole number from 1 to 1,024/,
    );
  });

  test("sizes each within bounds that make too large a model are refused before allocation", () => {
    const cfg = tinyConfig(530);
    const big = { ...cfg, text: { ...cfg.text, width: 65536, heads: 64, layers: 200 } };
    assert.throws(
      () => plannedShapes(() => new CLIP(big), "big.json"),
      /big\.json: the config describes [\d,]+ weights \([\d.]+ GiB of float32\); the limit is 4,294,967,296/,
    );
  });
});

describe("case 11: configs are checked against the weights file's header before building", () => {
  test("shapesOnly builds a model's names and shapes without its storage", () => {
    const cfg = tinyConfig(530);
    const real = new CLIP(cfg);
    const skeleton = shapesOnly(() => new CLIP(cfg));
    assert.deepEqual(
      skeleton.parameters().map((p) => [p.name, p.shape]),
      real.parameters().map((p) => [p.name, p.shape]),
    );
    assert.ok(skeleton.parameters().every((p) => p.data.length === 0));
    assert.ok(
      real.parameters().every((p) => p.data.length > 0),
      "storage is back after shapesOnly",
    );
  });

  test("a juxta.json with more layers than its weights names the missing tensor", () => {
    refused(
      edited(juxtaDir, "juxta.json", (j) => {
        j.model.vision.layers = 2;
      }),
      /model\.safetensors: tensor 'visual\.transformer\.resblocks\.1\.ln_1\.weight' is missing \(shape \[32\] expected\)/,
    );
    refused(
      edited(juxtaDir, "juxta.json", (j) => {
        j.model.embedDim = 24;
      }),
      /model\.safetensors: tensor 'visual\.proj' has shape \[32, 16\], the model's config needs \[32, 24\]/,
    );
  });

  test("Hugging Face and OpenCLIP configs are checked against their files' own names", () => {
    refused(
      edited(hfDir, "config.json", (j) => {
        j.text_config.vocab_size = 600;
      }),
      /model\.safetensors: tensor 'text\.token_embedding\.weight' has shape \[530, 32\], the model's config needs \[600, 32\]/,
    );
    refused(
      edited(hfDir, "config.json", (j) => {
        j.vision_config.intermediate_size = 128;
      }),
      /model\.safetensors: tensor 'visual\.transformer\.resblocks\.0\.mlp\.c_fc\.weight' has shape \[64, 32\], the model's config needs \[128, 32\]/,
    );
    refused(
      edited(openClipDir, "open_clip_config.json", (j) => {
        j.model_cfg.text_cfg.context_length = 32;
      }),
      /open_clip_model\.safetensors: tensor 'text\.positional_embedding' has shape \[16, 32\], the model's config needs \[32, 32\]/,
    );
  });

  test("the header is read without the data, checked against the file's size as a full read checks it", () => {
    const file = join(tempDir(), "w.safetensors");
    writeSafetensors(file, { w: { dtype: "F32", shape: [2, 3], data: new Float32Array(6) } });
    assert.deepEqual([...readSafetensorsHeader(file)], [["w", { dtype: "F32", shape: [2, 3] }]]);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 4));
    assert.throws(
      () => readSafetensorsHeader(file),
      /tensor 'w' ends at byte 24, past the 20-byte data buffer \(truncated file\?\)/,
    );
  });
});
