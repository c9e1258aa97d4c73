import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { embed } from "../../src/cli/commands/embed.js";
import { openModel } from "../../src/handle/open.js";
import { readNpy } from "../../src/io/npy.js";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { needsShared, sharedData } from "../helpers.js";
import { COLORS, colourImages, runCommand, tempDir, tinyModel } from "./fixtures.js";

const TINY = join(sharedData, "clip-tiny");
const BPE = join(sharedData, "clip-bpe", "bpe_simple_vocab_16e6.txt.gz");

function maxRelative(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i] as number));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst / scale;
}

describe("juxta embed", () => {
  let model: string;
  let dir: string;
  let img: string;
  before(async () => {
    model = tinyModel();
    dir = tempDir();
    img = await colourImages(dir);
  });

  it("parity: --pixels and --texts give clip-tiny's OpenCLIP embeddings to 1e-4", {
    skip: needsShared("clip-tiny") || needsShared("clip-bpe"),
  }, async () => {
    const texts = join(dir, "texts.txt");
    const { texts: list } = JSON.parse(readFileSync(join(TINY, "texts.json"), "utf8")) as { texts: string[] };
    writeFileSync(texts, `${list.join("\n")}\n`);
    const out = join(dir, "tiny.safetensors");
    const io = join(TINY, "io.safetensors");
    await runCommand(embed, [
      "--model",
      TINY,
      "--tokenizer",
      BPE,
      "--pixels",
      io,
      "--texts",
      texts,
      "--out",
      out,
    ]);
    const ref = readSafetensors(io).tensors;
    const got = readSafetensors(out);
    for (const name of ["image_embeds", "text_embeds"]) {
      const t = got.tensors.get(name)!;
      assert.equal(t.dtype, "F32");
      assert.deepEqual(t.shape, ref.get(name)!.shape);
      const err = maxRelative(t.data as Float32Array, ref.get(name)!.data as Float32Array);
      assert.ok(err < 1e-4, `${name}: ${err}`);
    }
    assert.deepEqual(JSON.parse(got.metadata.texts as string), list);
    // The texts as a JSON file ({"texts": [...]}) give the same embeddings.
    const out2 = join(dir, "tiny-json.safetensors");
    await runCommand(embed, [
      "--model",
      TINY,
      "--tokenizer",
      BPE,
      "--texts",
      join(TINY, "texts.json"),
      "--out",
      out2,
    ]);
    assert.deepEqual(
      readSafetensors(out2).tensors.get("text_embeds")!.data,
      got.tensors.get("text_embeds")!.data,
    );
  });

  it("--images DIR: a folder searched recursively, ids in the metadata, rows as the embedder gives them", async () => {
    const out = join(dir, "img.safetensors");
    const [line] = await runCommand(embed, ["--model", model, "--images", img, "--out", out]);
    assert.match(line as string, /wrote 4 image embeddings \(16-d\)/);
    const file = readSafetensors(out);
    const ids = JSON.parse(file.metadata.image_ids as string) as string[];
    assert.deepEqual(
      ids,
      Object.keys(COLORS)
        .sort()
        .map((c) => join(img, `${c}.png`)),
    );
    assert.equal(file.metadata.model, model);
    const e = await openModel(model);
    const expected = await e.embedImages(ids.map((path) => ({ kind: "file" as const, path })));
    await e.dispose();
    assert.deepEqual(file.tensors.get("image_embeds")!.data, expected);
    // .npy: the same matrix, ids beside it.
    const npy = join(dir, "img.npy");
    await runCommand(embed, ["--model", model, "--images", img, "--out", npy]);
    const arr = readNpy(npy);
    assert.deepEqual(arr.shape, [4, 16]);
    assert.deepEqual(arr.data, expected);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "img.ids.json"), "utf8")), ids);
  });

  it("bad input is a UserError naming the problem", async () => {
    const run = (argv: string[]) => runCommand(embed, ["--model", model, ...argv]);
    const out = join(dir, "x.safetensors");
    await assert.rejects(run(["--out", out]), /nothing to embed/);
    await assert.rejects(run(["--images", img, "--out", join(dir, "x.txt")]), /\.safetensors or \.npy/);
    await assert.rejects(run(["--images", img, "--pixels", out, "--out", out]), /not both/);
    const pixels = join(dir, "px.safetensors");
    writeSafetensors(pixels, {
      pixel_values: { dtype: "F32", shape: [1, 3, 8, 8], data: new Float32Array(192) },
    });
    await assert.rejects(
      run(["--pixels", pixels, "--out", out]),
      /shape \[1,3,8,8\], expected \[n, 3, 16, 16\]/,
    );
    writeFileSync(join(dir, "broken.png"), "not a png");
    await assert.rejects(
      run(["--images", join(dir, "broken.png"), "--out", out]),
      /cannot embed .*broken\.png: unreadable image: .*broken\.png.*\(no image of 1 could be embedded\)/,
    );
    await assert.rejects(
      run(["--texts", join(dir, "missing.txt"), "--out", out]),
      /missing\.txt: cannot read texts/,
    );
  });
});
