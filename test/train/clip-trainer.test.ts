/** The CLIP trainer end to end on a small synthetic image-text set: checkpoints, exact resume, bad input. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import sharp from "sharp";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import type { ClipConfig } from "../../src/models/clip.js";
import { loadClip } from "../../src/models/saved.js";
import { warmupCosine } from "../../src/optim/schedule.js";
import { trainClip } from "../../src/train/loop.js";
import { CollapseWatch } from "../../src/train/run.js";
import { UserError } from "../../src/util/errors.js";

const CONFIG: ClipConfig = {
  embedDim: 16,
  vision: {
    type: "vit",
    imageSize: 16,
    patchSize: 8,
    width: 32,
    layers: 1,
    heads: 2,
    mlpRatio: 2,
    act: "gelu",
    lnEps: 1e-5,
  },
  text: {
    vocabSize: 600,
    contextLength: 8,
    width: 32,
    layers: 1,
    heads: 2,
    mlpRatio: 2,
    act: "gelu",
    lnEps: 1e-5,
  },
};

const COLORS = {
  red: [220, 30, 30],
  green: [30, 200, 60],
  blue: [40, 60, 220],
  yellow: [230, 210, 40],
} as const;
const SHAPES = ["square", "bar"] as const;

/** 4 colours × 2 shapes × 3 sizes = 24 small PNGs with captions, plus one bad row and one missing image. */
async function makeData(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "juxta-train-"));
  const rows: string[] = [];
  let i = 0;
  for (const [name, rgb] of Object.entries(COLORS))
    for (const shape of SHAPES)
      for (const size of [10, 14, 18]) {
        const w = shape === "bar" ? 6 : size;
        const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24"><rect width="24" height="24" fill="white"/><rect x="${(24 - w) / 2}" y="${(24 - size) / 2}" width="${w}" height="${size}" fill="rgb(${rgb.join(",")})"/></svg>`;
        const file = `img${i++}.png`;
        await sharp(Buffer.from(svg)).png().toFile(join(dir, file));
        rows.push(JSON.stringify({ image: file, text: `a ${size > 12 ? "big" : "small"} ${name} ${shape}` }));
      }
  rows.push("{not json");
  rows.push(JSON.stringify({ image: "missing.png", text: "a lost image" }));
  writeFileSync(join(dir, "data.jsonl"), `${rows.join("\n")}\n`);
  return dir;
}

const quiet = { write: () => true };

describe("trainClip", () => {
  it("an interrupted-and-resumed run gives exactly the losses of an uninterrupted one", async () => {
    const data = join(await makeData(), "data.jsonl");
    const common = { data, config: CONFIG, batch: 8, epochs: 3, lr: 2e-3, seed: 3, stream: quiet };
    const whole = await trainClip({ ...common, out: mkdtempSync(join(tmpdir(), "juxta-run-")) });
    assert.equal(whole.steps, 9); // 24 usable pairs / 8 per batch × 3 epochs
    assert.equal(whole.skipped, 2);

    const out = mkdtempSync(join(tmpdir(), "juxta-run-"));
    const first = await trainClip({ ...common, out, stopAfter: 4 });
    assert.equal(first.steps, 4);
    const state = JSON.parse(readFileSync(join(out, "state.json"), "utf8")) as { step: number };
    assert.equal(state.step, 4);
    await assert.rejects(trainClip({ ...common, out }), /already holds a run/);
    const rest = await trainClip({ out, resume: true, stream: quiet });
    assert.equal(rest.steps, 9);
    assert.deepEqual([...first.losses, ...rest.losses], whole.losses);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    assert.deepEqual(
      metrics.map((l) => (JSON.parse(l) as { step: number }).step),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    const saved = loadClip(out);
    assert.equal(saved.config.step, 9);
    assert.ok(whole.losses[8]! < whole.losses[0]!, `loss falls: ${whole.losses.map((x) => x.toFixed(3))}`);
  });

  it("siglip: the bias is checkpointed and an interrupted-and-resumed run equals an uninterrupted one", async () => {
    const data = join(await makeData(), "data.jsonl");
    const common = {
      method: "siglip" as const,
      data,
      config: CONFIG,
      batch: 8,
      epochs: 2,
      lr: 2e-3,
      seed: 5,
      stream: quiet,
    };
    const whole = await trainClip({ ...common, out: mkdtempSync(join(tmpdir(), "juxta-run-")) });
    assert.equal(whole.steps, 6);
    const out = mkdtempSync(join(tmpdir(), "juxta-run-"));
    const first = await trainClip({ ...common, out, stopAfter: 2 });
    await assert.rejects(
      trainClip({ out, resume: true, method: "clip", stream: quiet }),
      /resume: method clip differs from the run.s siglip/,
    );
    const rest = await trainClip({ out, resume: true, stream: quiet });
    assert.equal(rest.steps, 6);
    assert.deepEqual([...first.losses, ...rest.losses], whole.losses);

    const saved = loadClip(out);
    assert.equal(saved.config.method, "siglip");
    assert.ok(Number.isFinite(saved.logitBias) && saved.logitBias !== -10, `bias ${saved.logitBias}`);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { bias: number; temperature: number });
    assert.equal(metrics.length, 6);
    // Step 1 runs with SigLIP's initial t = 10 and b = −10; later steps with the learned ones.
    assert.ok(Math.abs(metrics[0]!.temperature - 10) < 1e-4 && metrics[0]!.bias === -10);
    assert.ok(metrics.every((m) => Number.isFinite(m.bias)) && metrics[5]!.bias !== -10);

    // The bias is part of the model: a SigLIP folder without it is refused, naming the tensor.
    const weights = join(out, "model.safetensors");
    const tensors = readSafetensors(weights).tensors;
    tensors.delete("logit_bias");
    writeSafetensors(weights, Object.fromEntries(tensors) as never);
    assert.throws(() => loadClip(out), /tensor 'logit_bias' \(one value\) is missing/);
  });

  it("refuses a resume that changes the run's settings, and a resume without a checkpoint", async () => {
    const out = mkdtempSync(join(tmpdir(), "juxta-run-"));
    await assert.rejects(trainClip({ out, resume: true, stream: quiet }), /holds no checkpoint/);
    const data = join(await makeData(), "data.jsonl");
    await trainClip({ data, out, config: CONFIG, batch: 8, epochs: 1, stopAfter: 1, stream: quiet });
    await assert.rejects(trainClip({ out, resume: true, batch: 16, stream: quiet }), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /resume: batch 16 differs from the run's 8/);
      return true;
    });
  });

  it("a divergence never saves non-finite weights: one line naming the last finite checkpoint, which loads (case 7)", async () => {
    const data = join(await makeData(), "data.jsonl");
    const out = mkdtempSync(join(tmpdir(), "juxta-run-"));
    // The issue's recipe: an absurd learning rate, a checkpoint after every step.
    let message = "";
    await assert.rejects(
      trainClip({ data, out, config: CONFIG, batch: 8, epochs: 3, lr: 1e30, saveEvery: 1, stream: quiet }),
      (e: Error) => {
        assert.ok(e instanceof UserError);
        message = e.message;
        return true;
      },
    );
    const m =
      /^training diverged at step (\d+): (the loss became (NaN|Infinity|-Infinity)|(weight|optimizer state) '[^']+' is not finite); stopped and kept the last finite checkpoint, step (\d+) \(.*gen-\d+\)\. Try a lower lr \(now 1e\+30\) or maxGradNorm 1$/.exec(
        message,
      );
    assert.ok(m, message);
    const kept = Number(m[5]);
    assert.ok(kept >= 1 && kept < Number(m[1]), message);
    // The kept checkpoint is current and loads (loadWeights refuses NaN and ±Infinity).
    const saved = loadClip(out);
    assert.equal(saved.config.step, kept);
    for (const p of saved.model.parameters()) assert.ok(p.data.every(Number.isFinite), p.name);
    await assert.rejects(trainClip({ out, resume: true, stream: quiet }), /training diverged/);
  });

  it("warns once when the loss sits at ln(batch) while the logit scale falls (a collapsed model)", () => {
    const watch = new CollapseWatch(32);
    const chance = Math.log(32);
    const warnings: string[] = [];
    // Learning: a falling loss never warns.
    for (let i = 0; i < 30; i++)
      assert.equal(watch.observe(chance - 0.5 - i * 0.01, 14 - i * 0.1), undefined);
    // Stuck at chance with a steady scale: no warning either.
    for (let i = 0; i < 30; i++) assert.equal(watch.observe(chance, 10), undefined);
    for (let i = 0; i < 40; i++) {
      const w = watch.observe(chance + 0.001, 10 - i * 0.2);
      if (w) warnings.push(w);
    }
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] as string,
      /loss has sat at ln\(batch\) = ln\(32\) = 3\.466 for \d+ steps while the logit scale fell from 10\.00 to [\d.]+: the model is collapsing/,
    );
  });

  it("strict mode makes the first bad row fatal, naming file and line", async () => {
    const data = join(await makeData(), "data.jsonl");
    await assert.rejects(
      trainClip({
        data,
        out: mkdtempSync(join(tmpdir(), "juxta-run-")),
        config: CONFIG,
        batch: 8,
        strict: true,
        stream: quiet,
      }),
      /data\.jsonl:25/,
    );
  });

  it("fine-tunes from a saved model with the image tower locked (LiT), evaluating on held-out data", async () => {
    const data = join(await makeData(), "data.jsonl");
    const base = mkdtempSync(join(tmpdir(), "juxta-run-"));
    await trainClip({ data, out: base, config: CONFIG, batch: 8, epochs: 1, stream: quiet });
    const before = loadClip(base).model;
    const out = mkdtempSync(join(tmpdir(), "juxta-run-"));
    await trainClip({
      data,
      out,
      init: base,
      lockImage: true,
      batch: 8,
      epochs: 1,
      lr: 1e-2,
      evalData: data,
      evalEvery: 2,
      stream: quiet,
    });
    const after = loadClip(out).model;
    const changed = (prefix: string) =>
      after
        .parameters()
        .filter((p) => p.name.startsWith(prefix))
        .some((p) => {
          const q = before.parameters().find((b) => b.name === p.name)!;
          return p.data.some((v, i) => v !== q.data[i]);
        });
    assert.equal(changed("visual."), false, "the locked image tower is unchanged");
    assert.equal(changed("text."), true, "the text tower trained");
    const evals = readFileSync(join(out, "evals.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      evals.map((e: { step: number }) => e.step),
      [0, 2, 3],
    );
    assert.ok("image_to_text/R@1" in evals[0].values);
  });

  it("a time budget with evaluations: set-up said and timed, the schedule run to its end", async () => {
    const data = join(await makeData(), "data.jsonl");
    const out = mkdtempSync(join(tmpdir(), "juxta-run-"));
    const said: string[] = [];
    const stream = { write: (t: string) => said.push(t) };
    const r = await trainClip({ data, out, config: CONFIG, batch: 8, minutes: 0.05, evalData: data, stream });
    const text = said.join("");
    for (const message of [
      "compiling the training step",
      "timing two dry steps to fit the schedule into 0.05 minutes",
      `reading the held-out set ${data}`,
      "set-up took ",
    ])
      assert.ok(text.includes(message), `says '${message}'`);
    assert.equal(r.steps, r.totalSteps, "the schedule reached its end");
    assert.ok(r.setupSeconds > 0 && r.trainSeconds > 0 && r.evalSeconds > 0);
    assert.ok(r.evalSeconds < r.trainSeconds);
    const state = JSON.parse(readFileSync(join(out, "state.json"), "utf8"));
    assert.equal(state.step, state.totalSteps);
    assert.ok(state.setupSeconds > 0);
    assert.equal(state.evals.runs, state.evals.done + 1);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const last = metrics.at(-1);
    assert.equal(last.step, state.totalSteps);
    assert.equal(
      last.lr,
      warmupCosine(state.totalSteps - 1, { lr: 5e-4, warmup: state.warmupSteps, total: state.totalSteps }),
    );
    const evalSteps = readFileSync(join(out, "evals.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).step);
    assert.equal(evalSteps[0], 0);
    assert.equal(evalSteps.at(-1), state.totalSteps);
    await assert.rejects(
      trainClip({
        data,
        out: mkdtempSync(join(tmpdir(), "juxta-run-")),
        config: CONFIG,
        epochs: 1,
        minutes: 0.1,
        stream: quiet,
      }),
      /epochs and minutes both set the schedule's length/,
    );
  });

  it("trains CLIP with a small ResNet image tower (BatchNorm statistics saved), which exports refuse", async () => {
    const data = join(await makeData(), "data.jsonl");
    const out = mkdtempSync(join(tmpdir(), "juxta-run-"));
    const config: ClipConfig = {
      ...CONFIG,
      vision: { type: "resnet", imageSize: 16, stemStride: 1, widths: [8, 16], blocks: [1, 1] },
    };
    const r = await trainClip({ data, out, config, batch: 8, epochs: 3, lr: 3e-3, stream: quiet });
    assert.ok(r.losses.at(-1)! < r.losses[0]!, `loss falls: ${r.losses.map((x) => x.toFixed(3))}`);
    const saved = loadClip(out);
    const mean = saved.model.buffers().find((b) => b.name.endsWith("runningMean"));
    assert.ok(
      mean?.data.some((v) => v !== 0),
      "BatchNorm running statistics were trained and saved",
    );
    await assert.rejects(
      (async () =>
        (await import("../../src/export/index.js")).exportModel(out, {
          format: "hf",
          out: join(out, "hf"),
        }))(),
      /image tower is a ResNet/,
    );
  });
});
