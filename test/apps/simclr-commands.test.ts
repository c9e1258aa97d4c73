/**
 * A SimCLR run through every command that makes sense for an image-only encoder: index, search by image,
 * export to ONNX (read back by transformers.js's image-feature-extraction pipeline), embed and eval (in
 * image-encoder.test.ts); text search and classify refused in one sentence.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { classify } from "../../src/cli/commands/classify.js";
import { exportCommand } from "../../src/cli/commands/export.js";
import { index } from "../../src/cli/commands/index.js";
import { search } from "../../src/cli/commands/search.js";
import { openModel } from "../../src/handle/open.js";
import { trainImageMethod } from "../../src/train/loop.js";
import { quiet, TINY_ENCODER, writeShapeSet } from "../methods/fixtures.js";
import { runCommand, tempDir } from "./fixtures.js";

const PACKAGE = "@huggingface/transformers";

interface Tensorish {
  data: Float32Array;
  dims: number[];
}
interface TransformersJs {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  pipeline: (
    task: string,
    model: string,
    opts: { dtype: string },
  ) => Promise<(images: unknown[], opts?: { pool?: boolean }) => Promise<Tensorish>>;
  RawImage: new (data: Uint8ClampedArray, width: number, height: number, channels: number) => unknown;
}

async function importTransformers(): Promise<{ lib?: TransformersJs; skip: string | false }> {
  try {
    return { lib: (await import(PACKAGE)) as TransformersJs, skip: false };
  } catch (e) {
    const reason = `skipped: ${PACKAGE} is not importable (${(e as Error).message.split("\n")[0]}); it is a devDependency`;
    console.log(reason);
    return { skip: reason };
  }
}

type Hit = { id: string; score: number };

describe("a SimCLR run in index, search --image and export", () => {
  let root = "";
  let run = "";
  let images: string[] = [];
  before(async () => {
    root = tempDir();
    const train = await writeShapeSet(root, "train", 4);
    run = join(root, "run");
    await trainImageMethod({
      method: "simclr",
      data: train,
      out: run,
      encoder: TINY_ENCODER,
      batch: 8,
      epochs: 1,
      stopAfter: 2,
      workers: 0,
      session: { threads: 1 },
      stream: quiet,
    });
    images = readdirSync(join(root, "train"))
      .sort()
      .map((f) => join(root, "train", f));
  });

  it("index and search --image: every image finds itself first; a text query is refused", async () => {
    const out = join(root, "shapes.index");
    const built = JSON.parse(
      (
        await runCommand(index, ["--model", run, "--images", join(root, "train"), "--out", out, "--json"])
      )[0]!,
    );
    assert.deepEqual(built, { added: 12, skipped: 0, removed: 0, notFound: [], size: 12 });
    for (const image of [images[0]!, images[7]!]) {
      const hits = JSON.parse(
        (await runCommand(search, ["--index", out, "--image", image, "-k", "3", "--json"]))[0]!,
      ) as Hit[];
      assert.equal(hits.length, 3);
      assert.equal(hits[0]!.id, image);
      assert.ok(Math.abs(hits[0]!.score - 1) < 1e-5);
      assert.ok(hits[1]!.score <= hits[0]!.score);
    }
    await assert.rejects(
      runCommand(search, ["--index", out, "a", "triangle"]),
      /image-only encoder \(no text tower\) trained with simclr; it cannot embed the text query; search .* by image/,
    );
    await assert.rejects(
      runCommand(classify, ["--model", run, "--labels", "disc,square", images[0]!]),
      /image-only encoder \(no text tower\) trained with simclr; zero-shot classification scores images against label texts/,
    );
  });

  it("export --format onnx: transformers.js's image-feature-extraction pipeline gives Juxta's embeddings", async () => {
    const parent = tempDir();
    const name = "simclr-export";
    const printed = await runCommand(exportCommand, [
      "--model",
      run,
      "--format",
      "onnx",
      "--out",
      join(parent, name),
    ]);
    assert.match(printed.join("\n"), /onnx\/model\.onnx/);
    for (const f of ["onnx/model.onnx", "config.json", "preprocessor_config.json"])
      assert.ok(existsSync(join(parent, name, f)), f);
    const config = JSON.parse(readFileSync(join(parent, name, "config.json"), "utf8"));
    assert.equal(config.model_type, "juxta_image_encoder");
    assert.equal(config.juxta.method, "simclr");
    await assert.rejects(
      runCommand(exportCommand, ["--model", run, "--format", "hf", "--out", join(parent, "hf")]),
      /image-only encoder \(simclr\); Hugging Face and OpenCLIP have no class for it, so it exports as onnx only/,
    );

    const { lib, skip } = await importTransformers();
    if (skip) return;
    const t = lib as TransformersJs;
    t.env.allowRemoteModels = false;
    t.env.allowLocalModels = true;
    t.env.localModelPath = parent;
    const extract = await t.pipeline("image-feature-extraction", name, { dtype: "fp32" });
    const model = await openModel(run);
    const s = model.imageSize;
    // Images already S × S: the resize is then the identity in both, so only the model is compared.
    const raw = [1, 2, 3].map((seed) => {
      const px = new Uint8Array(s * s * 3);
      for (let i = 0; i < px.length; i++) px[i] = (i * 37 + seed * 101 + ((i * seed) % 13) * 7) % 256;
      return px;
    });
    const got = await extract(raw.map((p) => new t.RawImage(new Uint8ClampedArray(p), s, s, 3)));
    const want = await model.embedImages(raw.map((p) => ({ data: p, width: s, height: s, channels: 3 })));
    assert.deepEqual(got.dims, [3, model.dim]);
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]!));
      worst = Math.max(worst, Math.abs(got.data[i]! - want[i]!));
    }
    assert.ok(worst / scale < 1e-4, `max relative difference ${worst / scale}`);
    const pooled = await extract(
      raw.map((p) => new t.RawImage(new Uint8ClampedArray(p), s, s, 3)),
      { pool: true },
    );
    assert.deepEqual(Array.from(pooled.data), Array.from(got.data));
    await model.dispose();
  });

  it("export --dtype fp16 and q8: transformers.js's dtype option loads them and embeds as Juxta does at that dtype", async () => {
    const { lib, skip } = await importTransformers();
    const parent = tempDir();
    for (const [dtype, file, tolerance] of [
      ["fp16", "onnx/model_fp16.onnx", 1e-4],
      // Juxta runs q8 as fused DynamicQuantizeMatMul, the export as the portable MatMulInteger chain:
      // the same int8 products, summed in another order.
      ["q8", "onnx/model_quantized.onnx", 1e-3],
    ] as const) {
      const name = `simclr-${dtype}`;
      await runCommand(exportCommand, [
        "--model",
        run,
        "--format",
        "onnx",
        "--dtype",
        dtype,
        "--out",
        join(parent, name),
      ]);
      assert.deepEqual(readdirSync(join(parent, name, "onnx")), [file.slice(5)]);
      if (skip) continue;
      const t = lib as TransformersJs;
      t.env.allowRemoteModels = false;
      t.env.allowLocalModels = true;
      t.env.localModelPath = parent;
      const extract = await t.pipeline("image-feature-extraction", name, { dtype });
      const model = await openModel(run, { dtype });
      const s = model.imageSize;
      const px = Uint8Array.from({ length: s * s * 3 }, (_, i) => (i * 53 + ((i * 7) % 11) * 13) % 256);
      const got = await extract([new t.RawImage(new Uint8ClampedArray(px), s, s, 3)]);
      const want = await model.embedImages([{ data: px, width: s, height: s, channels: 3 }]);
      const scale = Math.max(...Array.from(want, Math.abs));
      const worst = Math.max(...Array.from(want, (w, i) => Math.abs(got.data[i]! - w)));
      assert.ok(worst / scale < tolerance, `${dtype}: max relative difference ${worst / scale}`);
      await model.dispose();
    }
  });
});
