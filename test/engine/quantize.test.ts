import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compile, input, Session, type WeightFormat } from "../../src/engine/index.js";
import { quantizeColumns } from "../../src/engine/quantize.js";
import { fillNormal } from "../../src/engine/random.js";
import { ModelHandle } from "../../src/handle/model.js";
import { CLIP, type ClipConfig } from "../../src/models/clip.js";
import { ClipEncoders } from "../../src/models/encoders.js";
import { Linear } from "../../src/nn/index.js";
import { bind, stateDict } from "../../src/nn/module.js";

const tower = (width: number, heads: number) => ({
  width,
  layers: 2,
  heads,
  mlpRatio: 4,
  act: "gelu" as const,
  lnEps: 1e-5,
});

/** A small CLIP of this width (the attention width decides how q8 lowers attention). */
function smallClip(width: number, heads: number): CLIP {
  const cfg: ClipConfig = {
    embedDim: 32,
    vision: { type: "vit", imageSize: 32, patchSize: 8, ...tower(width, heads) },
    text: { vocabSize: 300, contextLength: 12, ...tower(width, heads) },
  };
  return new CLIP(cfg).initialize(3);
}

function cosines(a: Float32Array, b: Float32Array, d: number): { median: number; worst: number } {
  const c: number[] = [];
  for (let r = 0; r < a.length / d; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let j = r * d; j < (r + 1) * d; j++) {
      ab += (a[j] as number) * (b[j] as number);
      aa += (a[j] as number) ** 2;
      bb += (b[j] as number) ** 2;
    }
    c.push(ab / Math.sqrt(aa * bb));
  }
  c.sort((x, y) => x - y);
  return { median: c[c.length >> 1] as number, worst: c[0] as number };
}

async function embedAll(model: CLIP, weights: WeightFormat) {
  const { imageSize: s } = model.cfg.vision;
  const { contextLength: t, vocabSize: v } = model.cfg.text;
  const n = 16;
  const pixels = fillNormal(new Float32Array(n * 3 * s * s), 7) as Float32Array;
  const ids = new Int32Array(n * t);
  for (let r = 0; r < n; r++) {
    const len = 3 + (r % (t - 3));
    for (let j = 0; j < len; j++) ids[r * t + j] = 1 + ((r * 31 + j * 17) % (v - 3));
    ids[r * t + len] = v - 1; // the end token: the largest id
  }
  const enc = await ClipEncoders.create(model, { weights, chunk: 8 });
  try {
    return { images: await enc.encodeImages(pixels), texts: await enc.encodeTexts(ids) };
  } finally {
    await enc.release();
  }
}

describe("q8 and fp16 inference graphs", () => {
  it("quantizes each output channel on its own scale, symmetric, with the largest value at ±63 (no int16 saturation without VNNI)", () => {
    // W [K=3, N=2]: column 0 spans ±1, column 1 ±0.01; an all-zero column keeps scale 1.
    const w = Float32Array.from([1, 0.01, -0.4, -0.01, 0.25, 0.006]);
    const { q, scale } = quantizeColumns(w, 3, 2);
    assert.deepEqual(Array.from(q), [63, 63, -25, -63, 16, 38]);
    assert.ok(Math.abs((scale[0] as number) - 1 / 63) < 1e-9);
    assert.ok(Math.abs((scale[1] as number) - 0.01 / 63) < 1e-9);
    assert.deepEqual(Array.from(quantizeColumns(new Float32Array(2), 2, 1).scale), [1]);
  });

  it("lowers dense layers to int8 kernels: contrib DynamicQuantizeMatMul, portable MatMulInteger", async () => {
    const layer = new Linear(64, 48).initialize(1);
    bind(layer);
    const x = input("x", ["batch", 64]);
    const feed = fillNormal(new Float32Array(4 * 64), 2) as Float32Array;
    const run = async (weights: WeightFormat, contrib: boolean) => {
      const g = compile({ y: layer.forward(x) }, { freeze: stateDict(layer), weights, contrib });
      const session = await Session.create(g);
      const y = (await session.run({ x: feed })).y!.data as Float32Array;
      await session.release();
      return { ops: g.model.nodes.map((n) => n.op), inits: g.model.initializers, y };
    };
    const fp32 = await run("fp32", true);
    const fused = await run("q8", true);
    const portable = await run("q8", false);
    assert.deepEqual(fused.ops, ["DynamicQuantizeMatMul"]);
    assert.ok(portable.ops.includes("MatMulInteger") && portable.ops.includes("DynamicQuantizeLinear"));
    for (const q of [fused, portable]) {
      assert.equal(q.inits.find((t) => t.dtype === "int8" && t.dims.length === 2)?.dims.join(), "64,48");
      assert.ok(!q.inits.some((t) => t.dtype === "float32" && t.dims.length === 2), "no float32 weight left");
      assert.ok(cosines(fp32.y, q.y, 48).worst > 0.999, "int8 layer output close to float32");
    }
    // Both int8 forms compute the same products (the portable one is what ONNX Runtime fuses).
    assert.ok(cosines(fused.y, portable.y, 48).worst > 0.99999);
  });

  it("q8 CLIP embeddings stay within 0.99 cosine of fp32; fp16 within 0.9999", async () => {
    for (const [width, heads] of [
      [64, 2],
      [256, 4],
    ] as const) {
      const model = smallClip(width, heads);
      const fp32 = await embedAll(model, "fp32");
      const q8 = await embedAll(model, "q8");
      const fp16 = await embedAll(model, "fp16");
      const d = model.cfg.embedDim;
      for (const kind of ["images", "texts"] as const) {
        const c8 = cosines(fp32[kind], q8[kind], d);
        assert.ok(c8.worst > 0.99, `width ${width} ${kind}: q8 worst cosine ${c8.worst}`);
        assert.ok(c8.median < 1 - 1e-7, `width ${width} ${kind}: q8 changes the numbers`);
        const c16 = cosines(fp32[kind], fp16[kind], d);
        assert.ok(c16.worst > 0.9999, `width ${width} ${kind}: fp16 worst cosine ${c16.worst}`);
      }
    }
  });

  it("q8 lowers attention to QAttention (the text tower's keeps its causal mask), GELU to FastGelu, every product int8", () => {
    const model = smallClip(64, 2);
    model.eval();
    bind(model);
    const { imageSize: s } = model.cfg.vision;
    const text = compile(
      { e: model.encodeText(input("input_ids", ["batch", 12], "int32")) },
      { freeze: stateDict(model), weights: "q8" },
    );
    const image = compile(
      { e: model.encodeImage(input("pixel_values", ["batch", 3, s, s])) },
      { freeze: stateDict(model), weights: "q8" },
    );
    for (const [g, causal] of [
      [text, 1],
      [image, 0],
    ] as const) {
      const ops = g.model.nodes.map((n) => n.op);
      const qa = g.model.nodes.filter((n) => n.op === "QAttention");
      assert.ok(qa.length > 0 && qa.every((n) => (n.attrs?.unidirectional ?? 0) === causal));
      assert.ok(!ops.includes("Attention") && !ops.includes("Gelu") && ops.includes("FastGelu"));
      // The image tower's last block slices its in_proj (q for the class token only): folded, then int8.
      assert.ok(!ops.includes("Gemm"), `a float32 Gemm is left: ${ops.join(" ")}`);
    }
  });

  it("fp16 stores every weight as float16, widened by a Cast", () => {
    const layer = new Linear(8, 4).initialize(1);
    bind(layer);
    const g = compile(
      { y: layer.forward(input("x", [2, 8])) },
      { freeze: stateDict(layer), weights: "fp16" },
    );
    assert.deepEqual(
      g.model.initializers.map((t) => t.dtype),
      ["float16", "float16"],
    );
    assert.equal(g.model.nodes.filter((n) => n.op === "Cast").length, 2);
  });

  it("the model handle compiles its sessions at the dtype it was given, and refuses an unknown one", async () => {
    const model = smallClip(64, 2);
    const preprocess = { imageSize: 32, mean: [0, 0, 0], std: [1, 1, 1] };
    const loaded = { model, tokenizer: undefined as never, preprocess } as never;
    const pixels = fillNormal(new Float32Array(4 * 3 * 32 * 32), 9) as Float32Array;
    const embed = async (dtype?: WeightFormat) => {
      const handle = new ModelHandle(loaded, { dtype });
      try {
        return { dtype: handle.dtype, e: await handle.embedPixels(pixels) };
      } finally {
        await handle.dispose();
      }
    };
    const [fp32, q8] = [await embed(), await embed("q8")];
    assert.equal(fp32.dtype, "fp32");
    assert.equal(q8.dtype, "q8");
    const c = cosines(fp32.e, q8.e, model.cfg.embedDim);
    assert.ok(c.worst > 0.99 && c.median < 1 - 1e-7, `handle q8 vs fp32 cosine ${c.worst}..${c.median}`);
    assert.throws(
      () => new ModelHandle(loaded, { dtype: "int4" as never }),
      /dtype: expected fp32, fp16, q8/,
    );
  });
});
