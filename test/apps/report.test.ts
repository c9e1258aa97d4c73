/**
 * `juxta report` of a CLIP run and of an image-only (SimCLR) run, from the run folder to the page: what
 * each gathers, and, where a Chromium is installed, that each page loads cleanly in it and draws its charts
 * and thumbnails (screenshots in $JUXTA_SCREENSHOTS when set, else a temp folder).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { buildRunReport } from "../../src/apps/report.js";
import { report } from "../../src/cli/commands/report.js";
import { SkipLog } from "../../src/data/types.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { loadClipModel, loadModel } from "../../src/pretrained/open.js";
import { readCheckpoint } from "../../src/train/checkpoint.js";
import { trainImageMethod } from "../../src/train/loop.js";
import { quiet, TINY_ENCODER, writeShapeSet } from "../methods/fixtures.js";
import { colourImages, runCommand, tempDir, tinyModel, writeJsonl } from "./fixtures.js";

/** Chromium for the page checks: JUXTA_CHROMIUM overrides the Debian package's path. */
const chromiumPath = process.env.JUXTA_CHROMIUM ?? "/usr/bin/chromium";
const noChromium = existsSync(chromiumPath)
  ? false
  : `skipped: no Chromium at ${chromiumPath} (install Debian's chromium or set JUXTA_CHROMIUM)`;

interface PageFacts {
  problems: string[];
  charts: string[];
  sections: string[];
  images: number[];
  matches: number;
  warning: number;
}

/** Open a report in Chromium: console errors, failed loads, its charts and sections; a full-page screenshot. */
async function inChromium(file: string, shot: string): Promise<PageFacts> {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: chromiumPath });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(`file://${file}`, { waitUntil: "load" });
    const facts: PageFacts = {
      problems,
      charts: await page
        .locator("svg[data-chart]")
        .evaluateAll((ss) => ss.map((s) => s.getAttribute("data-chart") as string)),
      sections: await page.locator("section").evaluateAll((ss) => ss.map((s) => s.id)),
      images: await page
        .locator("img")
        .evaluateAll((is) => is.map((i) => (i as HTMLImageElement).naturalWidth)),
      matches: await page.locator("figure.match").count(),
      warning: await page.locator(".warning").count(),
    };
    await page.screenshot({ path: join(process.env.JUXTA_SCREENSHOTS ?? tempDir(), shot), fullPage: true });
    return facts;
  } finally {
    await browser.close();
  }
}

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
    assert.deepEqual(r.evals[1], { step: 3, values: { "zero_shot/top1": 0.75 }, chance: {} });
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
    assert.equal(withData.retrievals?.kind, "text-to-image");
    assert.equal(withData.retrievals?.candidates, 4);
    const queries = withData.retrievals?.queries ?? [];
    assert.equal(queries.length, 2);
    assert.notEqual(queries[0]?.query, queries[1]?.query);
    for (const q of queries) {
      // The top 2, then the correct image with its rank when it ranks lower.
      assert.equal(q.results.length, q.matchRank !== undefined && q.matchRank > 2 ? 3 : 2);
      assert.deepEqual(
        q.results.map((r) => r.rank),
        [1, 2, ...(q.matchRank !== undefined && q.matchRank > 2 ? [q.matchRank] : [])],
      );
      assert.equal(q.results.filter((r) => r.match).length, 1, "each caption has one image");
      assert.equal(q.results.find((r) => r.match)?.rank, q.matchRank);
    }
  });

  it("an unreadable image is left out and logged, not the end of the report", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "broken.png"), "not a png");
    const rows = readFileSync(data, "utf8").trim().split("\n");
    const withBroken = writeJsonl(join(dir, "test.jsonl"), [
      ...rows.slice(0, 2).map((l) => JSON.parse(l)),
      { image: join(dir, "broken.png"), text: "a broken square", label: "cold" },
      ...rows.slice(2).map((l) => JSON.parse(l)),
    ]);
    const log = new SkipLog();
    const r = await buildRunReport(loadClipModel(run), {
      data: withBroken,
      evaluate: false,
      log,
      queries: 4,
    });
    assert.equal(r.embeddings?.n, 4);
    assert.equal(r.retrievals?.candidates, 4);
    assert.deepEqual(r.similarity?.texts, [
      "a red square",
      "a green square",
      "a blue square",
      "a yellow square",
    ]);
    assert.ok(!r.retrievals?.queries.some((q) => q.query === "a broken square"));
    assert.equal(log.total, 1);
    assert.match(log.examples[0]?.reason ?? "", /unreadable image/);
  });

  it("in Chromium: loads cleanly, every chart and thumbnail drawn", { skip: noChromium }, async () => {
    const out = join(tempDir(), "report.html");
    await runCommand(report, [run, "--data", data, "--out", out]);
    const page = await inChromium(out, "report-clip.png");
    assert.deepEqual(page.problems, []);
    assert.deepEqual(page.sections, ["run", "training", "evals", "similarity", "embeddings", "retrievals"]);
    for (const chart of ["loss", "accuracy", "grad_norm", "logit_scale", "lr", "similarity", "embeddings"])
      assert.ok(page.charts.includes(chart), chart);
    assert.ok(page.charts.includes("eval-zero_shot"));
    assert.ok(page.images.length >= 4 * 4 && page.images.every((w) => w === 64), `${page.images}`);
    assert.ok(page.matches >= 1, "the correct images are marked");
  });

  it("a bad log line or missing run is a UserError naming it", async () => {
    const bad = tinyModel();
    writeFileSync(join(bad, "metrics.jsonl"), '{"step": 1, "loss": 2}\n{"step": 2, "loss": "x"}\n');
    await assert.rejects(runCommand(report, [bad]), /metrics\.jsonl:2 \(field 'loss'\): expected a number/);
    await assert.rejects(runCommand(report, []), /expected one RUN folder/);
    await assert.rejects(runCommand(report, [join(bad, "nope")]), /does not exist/);
  });
});

describe("juxta report of an image-only (SimCLR) run", () => {
  let root = "";
  let run = "";
  let train = "";
  let test = "";
  before(async () => {
    root = tempDir();
    train = await writeShapeSet(root, "train", 4);
    test = await writeShapeSet(root, "test", 3, 50);
    run = join(root, "run");
    await trainImageMethod({
      method: "simclr",
      data: train,
      out: run,
      encoder: TINY_ENCODER,
      batch: 8,
      epochs: 2,
      workers: 0,
      session: { threads: 1 },
      stream: quiet,
    });
  });

  it("curves with SimCLR's chance levels, kNN and linear probe now, a feature map, nearest images", async () => {
    const r = await buildRunReport(loadModel(run), { data: test, knnTrain: train, queries: 3, topK: 3 });
    assert.match(r.title, /^SimCLR run \S+\/run \(\d{4}-\d\d-\d\d\)$/);
    assert.equal(r.run.method, "SimCLR");
    assert.equal(r.run.batch, 8);
    assert.equal(r.run.steps, "2 of 2 planned");
    assert.equal(typeof r.run["set-up time"], "string");
    assert.equal(r.metrics.length, 2);
    assert.ok(r.metrics.every((m) => m.accuracy !== undefined && m.gradNorm !== undefined));
    // 2 × 8 views: each anchor's positive is one of the other 15.
    assert.deepEqual(r.chance, {
      loss: { y: Math.log(15), label: "chance: ln 15" },
      accuracy: { y: 1 / 15, label: "chance: 1/15" },
    });
    const ev = r.finalEval!;
    assert.deepEqual(Object.keys(ev.values), [
      "knn/top1",
      "knn/top5",
      "linear_probe/top1",
      "linear_probe/top5",
    ]);
    for (const v of Object.values(ev.values)) assert.ok(v >= 0 && v <= 1);
    assert.equal(ev.chance?.["knn/top1"], 1 / 3, "the largest class's share of the test set");
    assert.equal(ev.counts, "9 test images, 12 training images, 3 classes");
    assert.equal(r.similarity, undefined, "no texts: no image-text similarity matrix");
    assert.equal(r.embeddings?.what, "backbone features");
    assert.equal(r.embeddings?.n, 9);
    assert.equal(r.retrievals?.kind, "image-to-image");
    assert.equal(r.retrievals?.candidates, 8);
    const queries = r.retrievals?.queries ?? [];
    assert.deepEqual(
      queries.map((q) => q.query.split(" ")[0]).sort(),
      ["disc", "square", "triangle"],
      "one query per label",
    );
    for (const q of queries) {
      assert.ok(q.queryPng && q.matchRank !== undefined && q.matchRank <= 6);
      const label = q.query.split(" ")[0];
      for (const res of q.results)
        assert.equal(res.match, res.caption === label, "a match has the query's label");
    }
  });

  it("a MoCo run's chance levels count the queue: ln(K + 1) and 1/(K + 1)", async () => {
    const moco = join(root, "moco");
    await trainImageMethod({
      method: "moco",
      data: train,
      out: moco,
      encoder: TINY_ENCODER,
      batch: 4,
      queue: 8,
      epochs: 1,
      stopAfter: 1,
      workers: 0,
      session: { threads: 1 },
      stream: quiet,
    });
    const k = readSafetensors(join(readCheckpoint(moco)!.folder, "moco.safetensors")).tensors.get("queue")
      ?.shape[0] as number;
    assert.ok(k >= 4, `queue of ${k}`);
    const r = await buildRunReport(loadModel(moco));
    assert.equal(r.run.method, "MoCo");
    assert.deepEqual(r.chance, {
      loss: { y: Math.log(k + 1), label: `chance: ln ${k + 1}` },
      accuracy: { y: 1 / (k + 1), label: `chance: 1/${k + 1}` },
    });
  });

  it("without labelled training images the report says what kNN needs", async () => {
    const r = await buildRunReport(loadModel(run), { data: test });
    assert.deepEqual(r.finalEval?.values, {});
    assert.match(r.finalEval?.note ?? "", /--knn-train FILE/);
  });

  it("juxta report writes the page; in Chromium it loads cleanly", async (t) => {
    const out = join(root, "report.html");
    const [line] = await runCommand(report, [run, "--data", test, "--knn-train", train, "--out", out]);
    assert.equal(line, `wrote ${out}`);
    const html = readFileSync(out, "utf8");
    for (const id of ["run", "training", "evals", "embeddings", "retrievals"])
      assert.match(html, new RegExp(`<section id="${id}">`), id);
    assert.match(html, /kNN classification/);
    assert.match(html, /Nearest images/);
    if (noChromium) return t.diagnostic(noChromium);
    const page = await inChromium(out, "report-simclr.png");
    assert.deepEqual(page.problems, []);
    for (const chart of ["loss", "accuracy", "grad_norm", "lr", "embeddings"])
      assert.ok(page.charts.includes(chart), chart);
    // 3 queries: the query image and 5 results each (a match below the top adds one).
    assert.ok(page.images.length >= 3 * 6 && page.images.every((w) => w === 64), `${page.images}`);
  });
});
