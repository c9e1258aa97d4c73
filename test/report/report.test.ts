/**
 * The HTML report: self-contained, escaped, charts with the right number of points; and, where a
 * Chromium is installed, that it loads without errors, draws its SVG and images, and looks right
 * (a screenshot is left in a temp folder).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import sharp from "sharp";
import { type ReportData, renderReport } from "../../src/report/index.js";
import { formatNumber } from "../../src/util/progress.js";

/** Chromium for the browser test: JUXTA_CHROMIUM overrides the Debian package's path. */
const chromiumPath = process.env.JUXTA_CHROMIUM ?? "/usr/bin/chromium";
const noChromium = existsSync(chromiumPath)
  ? false
  : `skipped: no Chromium at ${chromiumPath} (install Debian's chromium or set JUXTA_CHROMIUM)`;

async function thumbnail(r: number, g: number, b: number): Promise<Uint8Array> {
  const png = await sharp({ create: { width: 48, height: 48, channels: 3, background: { r, g, b } } })
    .composite([
      {
        input: await sharp({ create: { width: 20, height: 20, channels: 3, background: "#ffffff" } })
          .png()
          .toBuffer(),
        left: 14,
        top: 14,
      },
    ])
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

const STEPS = 200;
const EVAL_EVERY = 40;
const N_SIM = 8;
const N_EMB = 90;

async function sampleData(): Promise<ReportData> {
  let seed = 3;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const metrics = Array.from({ length: STEPS }, (_, i) => ({
    step: i + 1,
    loss: 4 * Math.exp(-i / 60) + 0.6 + 0.15 * rnd(),
    lr: 5e-4 * Math.min(1, (i + 1) / 20) * (0.5 + 0.5 * Math.cos((Math.PI * i) / STEPS)),
    logitScale: 14.3 + (i / STEPS) * 30,
    accuracy: Math.min(1, 0.05 + i / STEPS + 0.05 * rnd()),
    gradNorm: 8 * Math.exp(-i / 80) + 0.5 + 0.2 * rnd(),
  }));
  const evals = Array.from({ length: STEPS / EVAL_EVERY }, (_, k) => {
    const t = (k + 1) / (STEPS / EVAL_EVERY);
    return {
      step: (k + 1) * EVAL_EVERY,
      values: {
        "image_to_text/R@1": 0.1 + 0.5 * t,
        "image_to_text/R@5": 0.3 + 0.6 * t,
        "text_to_image/R@1": 0.12 + 0.4 * t,
        "zero_shot/top1": 0.2 + 0.4 * t,
        "zero_shot/top5": 0.5 + 0.4 * t,
      },
      chance: { "image_to_text/R@1": 1 / 60, "image_to_text/R@5": 5 / 60, "zero_shot/top1": 0.1 },
    };
  });
  const texts = Array.from({ length: N_SIM }, (_, i) => `a photo of item ${i}`);
  texts[3] = `a <b>bold</b> "quoted" caption & more`;
  const matrix = new Float32Array(N_SIM * N_SIM).map((_, k) =>
    Math.floor(k / N_SIM) === k % N_SIM ? 0.3 + 0.02 * rnd() : 0.05 * rnd(),
  );
  const labels = ["cat", "dog", "bird"];
  const dim = 16;
  const points = new Float32Array(N_EMB * dim);
  const centres = labels.map(() => Array.from({ length: dim }, () => 3 * rnd()));
  for (let i = 0; i < N_EMB; i++)
    for (let j = 0; j < dim; j++) points[i * dim + j] = centres[i % 3]![j]! + rnd();
  const colors: [number, number, number][] = [
    [230, 80, 60],
    [60, 140, 230],
    [80, 180, 90],
    [240, 200, 40],
    [150, 90, 200],
  ];
  const queries = await Promise.all(
    ["a red square", "something <blue> & round"].map(async (query, q) => ({
      query,
      results: await Promise.all(
        colors.map(async ([r, g, b], k) => ({
          score: 0.31 - 0.02 * k - 0.01 * q,
          rank: q === 1 && k === 4 ? 12 : k + 1,
          match: q === 0 ? k === 0 : k === 4,
          png: await thumbnail(r, g, b),
          caption: k === 0 ? `best match for ${query}` : undefined,
        })),
      ),
      matchRank: q === 0 ? 1 : 12,
    })),
  );
  const retrievals = { kind: "text-to-image" as const, candidates: 90, queries };
  return {
    title: `Run <script>alert("x")</script> & co`,
    createdAt: "2026-11-25T12:00:00Z",
    run: {
      preset: "clip-tiny",
      steps: STEPS,
      batch: 32,
      dataset: "emoji <test>",
      ema: false,
      skipped: undefined,
    },
    metrics,
    chance: {
      loss: { y: Math.log(32), label: "chance: ln 32" },
      accuracy: { y: 1 / 32, label: "chance: 1/32" },
    },
    evals,
    finalEval: {
      source: "eval.json, step 200",
      values: { "image_to_text/R@1": 0.612, "image_to_text/R@10": 0.95, "zero_shot/top1": 0.6 },
      chance: { "image_to_text/R@1": 1 / 60, "zero_shot/top1": 0.1 },
      counts: "120 images, 60 distinct captions, 120 labelled",
    },
    similarity: { matrix, n: N_SIM, texts },
    embeddings: { points, n: N_EMB, dim, labels: Array.from({ length: N_EMB }, (_, i) => labels[i % 3]!) },
    retrievals,
  };
}

/** Number of points drawn by a path: each M or L command is one. */
const pointsOf = (d: string) => (d.match(/[ML]/g) ?? []).length;

describe("renderReport (HTML text)", () => {
  test("self-contained, escaped, deterministic, every section present", async () => {
    const data = await sampleData();
    const html = renderReport(data);
    assert.equal(renderReport(data), html);
    assert.ok(html.startsWith("<!doctype html>"));
    for (const banned of ["<script", "<link", "@import", "url(", 'src="http', "href="])
      assert.ok(!html.includes(banned), `contains ${banned}`);
    assert.ok(html.includes("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; co"));
    assert.ok(html.includes("a &#60;b&#62;bold&#60;/b&#62; &#34;quoted&#34; caption &#38; more"));
    assert.ok(html.includes("emoji &#60;test&#62;") && !html.includes("skipped"));
    assert.equal(html.match(/src="data:image\/png;base64,[A-Za-z0-9+/=]+"/g)?.length, 10);
    for (const id of ["loss", "accuracy", "grad_norm", "logit_scale", "lr", "similarity", "embeddings"])
      assert.ok(html.includes(`data-chart="${id}"`), id);
    const loss = /data-chart="loss"[\s\S]*?<path class="series"[^>]* d="([^"]*)"/.exec(html)!;
    assert.equal(pointsOf(loss[1]!), STEPS);
  });

  test("optional parts are left out; gaps for non-finite values; long runs are thinned", () => {
    const metrics = Array.from({ length: 10000 }, (_, i) => ({
      step: i,
      loss: i === 5000 ? Number.NaN : 1 / (i + 1),
    }));
    const html = renderReport({ title: "t", run: {}, metrics, evals: [] });
    assert.ok(!html.includes('data-chart="logit_scale"') && !html.includes('data-chart="similarity"'));
    assert.ok(html.includes("No evaluations were run: give the report --data"));
    const d = /data-chart="loss"[\s\S]*?<path class="series"[^>]* d="([^"]*)"/.exec(html)![1]!;
    assert.ok(pointsOf(d) <= 2000 && pointsOf(d) > 1000, `${pointsOf(d)} points`);
    assert.ok(d.startsWith("M62 12L"), "the first (highest) loss is at the top left");
    const gap = renderReport({
      title: "t",
      run: {},
      metrics: [1, 2, Number.POSITIVE_INFINITY, 4, 5].map((loss, step) => ({ step, loss })),
      evals: [],
    });
    const big = renderReport({
      title: "t",
      run: {},
      metrics: [],
      evals: [],
      similarity: { matrix: new Float32Array(70 * 70), n: 70, texts: [] },
    });
    assert.equal(big.match(/<rect class="cell"/g)?.length, 64 * 64);
    assert.ok(big.includes("Showing the first 64 of 70."));
    const d2 = /data-chart="loss"[\s\S]*?<path class="series"[^>]* d="([^"]*)"/.exec(gap)![1]!;
    assert.equal(d2.match(/M/g)?.length, 2);
    assert.equal(pointsOf(d2), 4);
  });

  test("bad input is refused", () => {
    const base: ReportData = { title: "t", run: {}, metrics: [], evals: [] };
    const notPng = {
      kind: "text-to-image" as const,
      candidates: 1,
      queries: [{ query: "q", results: [{ score: 1, png: Uint8Array.from([0xff, 0xd8, 0xff]) }] }],
    };
    assert.throws(() => renderReport({ ...base, retrievals: notPng }), /retrievals\[0\]\.results\[0\].*PNG/);
    const sim = { matrix: new Float32Array(3), n: 2, texts: [] };
    assert.throws(() => renderReport({ ...base, similarity: sim }), /3 values for a 2×2 matrix/);
    const emb = { points: Float32Array.from([1, Number.NaN]), n: 1, dim: 2, labels: ["a"] };
    assert.ok(renderReport({ ...base, embeddings: emb }).includes("non-finite values; no map was drawn"));
  });
});

describe("renderReport in Chromium", () => {
  test("loads without errors and draws every chart, cell, point and image", {
    skip: noChromium,
  }, async (t) => {
    const { chromium } = await import("playwright-core");
    const data = await sampleData();
    const dir = mkdtempSync(join(tmpdir(), "juxta-"));
    const file = join(dir, "report.html");
    writeFileSync(file, renderReport(data));
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("request", (r) => {
        if (!r.url().startsWith("data:") && !r.url().startsWith("file:"))
          problems.push(`request: ${r.url()}`);
      });
      await page.goto(`file://${file}`, { waitUntil: "load" });
      // Locators and inline callbacks only: tsx names local functions with a helper the page lacks.
      const all = (css: string) => page.locator(css);
      const paths = (chart: string) =>
        all(`svg[data-chart="${chart}"] path.series`).evaluateAll((ps) =>
          ps.map((p) => (p.getAttribute("d")!.match(/[ML]/g) ?? []).length),
        );
      const loss = all('svg[data-chart="loss"]');
      const seen = {
        loss: await paths("loss"),
        logitScale: await paths("logit_scale"),
        accuracy: await paths("accuracy"),
        gradNorm: await paths("grad_norm"),
        refs: await all("line.ref").evaluateAll((ls) => ls.map((l) => l.getAttribute("data-ref"))),
        lr: await paths("lr"),
        evals: {
          i2t: await paths("eval-image_to_text"),
          t2i: await paths("eval-text_to_image"),
          zero: await paths("eval-zero_shot"),
        },
        evalTitles: await all("#evals h3").allTextContents(),
        finalTable: await all("#evals table.evals").first().locator("tr").allInnerTexts(),
        matches: await all("#retrievals figure.match figcaption").allInnerTexts(),
        found: await all("#retrievals .found").allTextContents(),
        cells: await all("svg[data-chart=similarity] rect.cell").count(),
        cellTitle: await all("svg[data-chart=similarity] rect.cell title")
          .nth(3 * N_SIM + 1)
          .textContent(),
        points: await all("svg[data-chart=embeddings] circle.point").count(),
        tsnePoints: await all("svg[data-chart=embeddings-tsne] circle.point").count(),
        mapTitles: await all("#embeddings h2, #embeddings h3").allTextContents(),
        images: await all("img").evaluateAll((is) => is.map((i) => (i as HTMLImageElement).naturalWidth)),
        lossBox: await loss.boundingBox(),
        lossLength: await loss
          .locator("path.series:not(.faint)")
          .evaluate((p) => (p as SVGPathElement).getTotalLength()),
        title: await page.title(),
        legend: await all("#embeddings .key").allTextContents(),
      };
      // Raw steps (faint) under their moving average.
      assert.deepEqual(seen.loss, [STEPS, STEPS]);
      assert.deepEqual(seen.accuracy, [STEPS, STEPS]);
      assert.deepEqual(seen.gradNorm, [STEPS, STEPS]);
      assert.deepEqual(seen.logitScale, [STEPS]);
      assert.deepEqual(seen.refs, ["chance: ln 32", "chance: 1/32", "chance: R@1", "chance: top-1"]);
      assert.deepEqual(seen.lr, [STEPS]);
      assert.deepEqual(seen.evals, { i2t: [5, 5], t2i: [5], zero: [5, 5] });
      assert.deepEqual(seen.evalTitles, [
        "Final model (eval.json, step 200)",
        "During training",
        "Image → text retrieval",
        "Text → image retrieval",
        "Zero-shot classification",
        "At step 200",
      ]);
      assert.deepEqual(
        seen.finalTable.map((r) => r.split("\t").map((c) => c.trim())),
        [
          ["", "@1", "@10", "chance @1"],
          ["Image → text retrieval", "61%", "95%", "1.7%"],
          ["Zero-shot classification", "60%", "–", "10%"],
        ],
      );
      assert.deepEqual(seen.matches, ["✓ #1 0.310\nbest match for a red square", "✓ #12 0.220"]);
      assert.deepEqual(seen.found, ["correct image at rank 1 of 90", "correct image at rank 12 of 90"]);
      assert.equal(seen.cells, N_SIM * N_SIM);
      const v = formatNumber(data.similarity!.matrix[3 * N_SIM + 1]!);
      assert.equal(
        seen.cellTitle,
        `image 3: ${data.similarity!.texts[3]}\ntext 1: a photo of item 1\nsimilarity ${v}`,
      );
      assert.equal(seen.points, N_EMB);
      assert.equal(seen.tsnePoints, N_EMB);
      assert.deepEqual(seen.mapTitles, ["Map of image embeddings", "PCA", "t-SNE"]);
      assert.deepEqual(seen.images, Array(10).fill(48));
      assert.ok(seen.lossBox && seen.lossBox.width > 300 && seen.lossBox.height > 150, "loss chart size");
      assert.ok(seen.lossLength > 300, "the loss curve has visible length");
      assert.equal(seen.title, data.title);
      assert.deepEqual(seen.legend, ["bird (30)", "cat (30)", "dog (30)"]);
      assert.deepEqual(problems, []);
      const shot = join(process.env.JUXTA_SCREENSHOTS ?? dir, "report.png");
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot: ${shot}`);
    } finally {
      await browser.close();
    }
  });
});
