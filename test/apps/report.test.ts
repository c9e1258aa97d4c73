import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { buildRunReport } from "../../src/apps/report.js";
import { report } from "../../src/cli/commands/report.js";
import { loadClipModel } from "../../src/pretrained/open.js";
import { colourImages, runCommand, tempDir, tinyModel, writeJsonl } from "./fixtures.js";

describe("juxta report", () => {
  let run: string;
  let data: string;
  before(async () => {
    run = tinyModel();
    const dir = tempDir();
    const img = await colourImages(dir);
    data = writeJsonl(
      join(dir, "test.jsonl"),
      ["red", "green", "blue", "yellow"].map((c) => ({
        image: join(img, `${c}.png`),
        text: `a ${c} square`,
        label: c === "red" || c === "yellow" ? "warm" : "cold",
      })),
    );
    writeJsonl(
      join(run, "metrics.jsonl"),
      [1, 2, 3].map((step) => ({
        step,
        epoch: 0,
        loss: 4 - step / 2,
        lr: 1e-4 * step,
        temperature: 14.3,
        accuracy: step / 4,
        grad_norm: 2 / step,
        seconds: step,
      })),
    );
    const options = { method: "clip", batch: 4, lr: 1e-3 };
    writeFileSync(
      join(run, "state.json"),
      JSON.stringify({ step: 3, totalSteps: 3, warmupSteps: 1, elapsedSeconds: 3, options }),
    );
    writeJsonl(join(run, "evals.jsonl"), [
      { step: 2, values: { "zero_shot/top1": 0.5 } },
      { step: 3, values: { "zero_shot/top1": 0.75 } },
    ]);
  });

  it("writes one HTML file with curves, evals, heatmap, map and retrieval thumbnails", async () => {
    const out = join(tempDir(), "report.html");
    const [line] = await runCommand(report, [run, "--data", data, "--out", out]);
    assert.equal(line, `wrote ${out}`);
    const html = readFileSync(out, "utf8");
    for (const chart of ["loss", "accuracy", "grad_norm", "logit_scale", "lr"])
      assert.ok(html.includes(`data-chart="${chart}"`), chart);
    for (const id of ["run", "training", "evals", "similarity", "embeddings", "retrievals"])
      assert.match(html, new RegExp(`<section id="${id}">[^]*?<(svg|table|div)`), `section ${id}`);
    assert.ok(!html.includes("No training steps were logged"));
    assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 4 * 4);
    assert.ok(!/<script|https?:\/\//.test(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, "")));
  });

  it("gathers the run's logs; without --data the data sections are absent", async () => {
    const r = await buildRunReport(loadClipModel(run));
    assert.deepEqual(
      r.metrics.map((m) => m.loss),
      [3.5, 3, 2.5],
    );
    assert.deepEqual(r.evals[1], { step: 3, values: { "zero_shot/top1": 0.75 } });
    assert.deepEqual(r.metrics[1], {
      step: 2,
      loss: 3,
      lr: 2e-4,
      logitScale: 14.3,
      bias: undefined,
      accuracy: 0.5,
      gradNorm: 1,
      active: undefined,
    });
    assert.deepEqual(r.chance?.loss, { y: Math.log(4), label: "chance: ln 4" });
    assert.equal(r.run["embedding size"], 16);
    assert.equal(r.similarity, undefined);
    assert.equal(r.retrievals, undefined);
    const withData = await buildRunReport(loadClipModel(run), { data, pairs: 3, queries: 2, topK: 2 });
    assert.equal(withData.similarity?.n, 3);
    assert.deepEqual(withData.similarity?.texts, ["a red square", "a green square", "a blue square"]);
    assert.equal(withData.embeddings?.n, 4);
    assert.deepEqual(withData.embeddings?.labels, ["warm", "cold", "cold", "warm"]);
    assert.equal(withData.retrievals?.length, 2);
    assert.equal(withData.retrievals?.[0]?.results.length, 2);
  });

  it("a bad log line or missing run is a UserError naming it", async () => {
    const bad = tinyModel();
    writeFileSync(join(bad, "metrics.jsonl"), '{"step": 1, "loss": 2}\n{"step": 2, "loss": "x"}\n');
    await assert.rejects(runCommand(report, [bad]), /metrics\.jsonl:2 \(field 'loss'\): expected a number/);
    await assert.rejects(runCommand(report, []), /expected one RUN folder/);
    await assert.rejects(runCommand(report, [join(bad, "nope")]), /does not exist/);
  });
});
