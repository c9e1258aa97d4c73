/**
 * The package's entry points: every subpath in package.json's "exports" loads (through Node's own
 * resolution of "juxta/…", as a dependent's import does) and exports what its name promises; presets are
 * typed as their names, so a misspelt one is a compile error (the @ts-expect-error lines fail the build if not).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type ImageEncoderPreset, imageEncoderConfig } from "../../src/models/image-encoder.js";
import { PRESETS, type PresetName, presetConfig } from "../../src/models/presets.js";
import type { ClipTrainOptions, ImageMethodOptions } from "../../src/train/options.js";
import { projectRoot } from "../../src/util/paths.js";

type Conditions = string | { [condition: string]: Conditions };
const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as {
  exports: Record<string, Conditions>;
  browser: Record<string, string>;
};

/** What each subpath must at least export: the names a user comes to it for. */
const PROMISED: Record<string, string[]> = {
  ".": ["openModel", "pipeline", "trainClip", "VectorIndex", "Tokenizer", "engine", "nn", "optim"],
  "./apps": ["classifyImages", "embedInputs", "updateImageIndex", "buildRunReport"],
  "./data": ["openDataset", "Loader", "buildEmojiDataset", "SkipLog"],
  "./distributed": ["enqueueEmbedding", "runEmbedWorker", "mergeShards"],
  "./engine": ["compile", "grad", "Session"],
  "./eval": ["evaluateClip", "knnAccuracy", "linearProbe", "retrievalRecall", "zeroShotAccuracy"],
  "./export": ["exportModel"],
  "./hub": ["resolveModelSource", "parseHubName"],
  "./losses": ["clipLoss", "ntxentLoss"],
  "./models": ["CLIP", "PRESETS", "presetConfig", "saveClip", "loadClip", "loadModel"],
  "./nn": ["Linear", "MultiheadAttention"],
  "./optim": ["AdamW"],
  "./pipelines": ["openModel", "pipeline", "ModelHandle", "ZeroShotClassifier"],
  "./search": ["VectorIndex", "LanceIndex", "openIndexStore", "dedupVectors"],
  "./text": ["Tokenizer", "trainBpe", "loadTokenizer", "parseTokenizerJson", "tokenizerJson"],
  "./train": ["trainClip", "trainImageMethod", "TrainStep"],
};

function targets(c: Conditions): string[] {
  return typeof c === "string" ? [c] : Object.values(c).flatMap(targets);
}

test("every subpath export loads through Node's resolution and exports what it promises", async () => {
  assert.deepEqual(Object.keys(pkg.exports).sort(), [...Object.keys(PROMISED), "./package.json"].sort());
  for (const [subpath, names] of Object.entries(PROMISED)) {
    for (const file of targets(pkg.exports[subpath] as Conditions))
      assert.ok(existsSync(join(projectRoot, file)), `${subpath}: ${file} is missing`);
    const specifier = subpath === "." ? "juxta" : `juxta/${subpath.slice(2)}`;
    const mod = (await import(specifier)) as Record<string, unknown>;
    const missing = names.filter((n) => mod[n] === undefined);
    assert.deepEqual(missing, [], `${specifier} lacks ${missing.join(", ")}`);
  }
});

test("the browser field's replacements exist and mirror what they replace", async () => {
  for (const [from, to] of Object.entries(pkg.browser)) {
    assert.ok(existsSync(join(projectRoot, to)), `${from} → ${to} is missing`);
    if (from.startsWith("./")) {
      const [real, stand] = await Promise.all([
        import(join(projectRoot, from)) as Promise<Record<string, unknown>>,
        import(join(projectRoot, to)) as Promise<Record<string, unknown>>,
      ]);
      assert.deepEqual(Object.keys(stand).sort(), Object.keys(real).sort(), `${to} and ${from}`);
    }
  }
  const fs = (await import(join(projectRoot, pkg.browser["node:fs"] as string))) as Record<
    string,
    () => void
  >;
  assert.throws(() => fs.readFileSync?.(), /node:fs readFileSync\(\) is not available in a browser/);
});

test("presets are typed as their names and checked at run time", () => {
  const clip: ClipTrainOptions["preset"][] = ["tiny", "tiny-resnet", "small", "b32"];
  const image: ImageMethodOptions["preset"][] = ["resnet-tiny", "resnet-small", "vit-tiny"];
  // @ts-expect-error a misspelt CLIP preset does not compile
  const typo: ClipTrainOptions["preset"] = "tinyy";
  // @ts-expect-error nor does an image encoder preset given for CLIP
  const wrong: PresetName = "resnet-tiny";
  // @ts-expect-error nor a CLIP preset given for an image-only method
  const other: ImageEncoderPreset = "tiny";
  assert.deepEqual(clip.sort(), Object.keys(PRESETS).sort());
  assert.equal(image.length, 3);
  for (const name of image) assert.ok(imageEncoderConfig(name as ImageEncoderPreset).head.out > 0);
  // Names from a command line or a file arrive as strings: the functions still refuse unknown ones.
  assert.throws(() => presetConfig(typo as PresetName), /unknown preset 'tinyy'; choose one of: tiny/);
  assert.throws(() => presetConfig(wrong), /unknown preset 'resnet-tiny'/);
  assert.throws(() => imageEncoderConfig(other), /unknown image encoder preset 'tiny'/);
});
