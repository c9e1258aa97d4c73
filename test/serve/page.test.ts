/**
 * The page at `/` in a real browser (Debian's Chromium via playwright-core): type a query and see results,
 * scroll for more, click a result to search by it, toggle near-duplicates, upload an image, a phone-width
 * window. Screenshots are saved beside the test's temp files (their paths are printed).
 */
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { updateImageIndex } from "../../src/apps/image-index.js";
import { type SearchServer, startServer } from "../../src/serve/server.js";
import { png, tempDir, tinyModel } from "../apps/fixtures.js";

const chromiumPath = process.env.JUXTA_CHROMIUM ?? "/usr/bin/chromium";
const skip = existsSync(chromiumPath)
  ? false
  : `skipped: no Chromium at ${chromiumPath} (install Debian's chromium or set JUXTA_CHROMIUM)`;
if (skip && process.env.CI) throw new Error(`${skip}: CI must run this test (.ci/run installs it)`);

describe("the juxta serve page in Chromium", { skip }, () => {
  let dir: string;
  let server: SearchServer;
  let index: string;
  before(async () => {
    dir = tempDir();
    const img = join(dir, "img");
    mkdirSync(img);
    // 30 images (more than one page of 24), two of them near-identical.
    for (let i = 0; i < 30; i++)
      writeFileSync(
        join(img, `c${String(i).padStart(2, "0")}.png`),
        await png([(i * 37) % 256, (i * 91) % 256, (i * 53) % 256]),
      );
    writeFileSync(join(img, "c00-copy.png"), await png([1, 0, 0]));
    index = join(dir, "page.index");
    await updateImageIndex({ out: index, model: tinyModel(), images: img });
    server = await startServer({ index, port: 0 });
  });
  after(() => server?.close());

  it("search, scroll, click, dedup, upload, phone width", async (t) => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(server.url);
      assert.equal(await page.isVisible("#safe"), false, "no policy, no safe toggle");
      await page.fill("#q", "a red square");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.querySelectorAll(".hit").length === 24);
      assert.match(page.url(), /\?q=a\+red\+square/);
      assert.match((await page.textContent("#status")) ?? "", /24 results, scroll for more/);
      await page.waitForFunction(() =>
        [...document.querySelectorAll<HTMLImageElement>(".hit img")]
          .slice(0, 8)
          .every((i) => i.complete && i.naturalWidth > 0),
      );
      const shot1 = join(dir, "page-results.png");
      await page.screenshot({ path: shot1 });
      t.diagnostic(`screenshot: ${shot1}`);

      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await page.waitForFunction(() => document.querySelectorAll(".hit").length === 31);

      const first = await page.getAttribute(".hit >> nth=3", "data-id");
      await page.click(".hit >> nth=3");
      await page.waitForFunction(
        (id) => location.search.includes(encodeURIComponent(id as string).slice(0, 10)),
        first,
      );
      await page.waitForFunction(
        () =>
          document.querySelectorAll(".hit").length > 0 &&
          !document.querySelector("#status")?.textContent?.includes("searching"),
      );
      const ids = await page.$$eval(".hit", (els) => els.map((e) => (e as HTMLElement).dataset.id));
      assert.ok(!ids.includes(first as string), "a result is searched by, not shown as its own hit");

      // Near-duplicates: the red copy sits next to its original until the toggle hides it.
      await page.goto(`${server.url}/?q=red`);
      await page.waitForSelector(".hit >> nth=23");
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await page.waitForFunction(() => document.querySelectorAll(".hit").length === 31);
      await page.check("#dedup");
      const settled = () =>
        page.waitForFunction(() =>
          /results|no results/.test(document.querySelector("#status")?.textContent ?? ""),
        );
      await settled();
      for (let i = 0; i < 3; i++) {
        await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
        await settled();
      }
      const kept = await page.$$eval(".hit", (els) => els.map((e) => (e as HTMLElement).dataset.id ?? ""));
      assert.ok(kept.length > 0 && kept.length < 31, String(kept.length));
      assert.ok(
        !(kept.some((id) => id.endsWith("c00.png")) && kept.some((id) => id.endsWith("c00-copy.png"))),
      );
      assert.match(page.url(), /dedup=1/);

      // Search by an uploaded image: the same picture comes first, at cosine 1.
      await page.setInputFiles("#file", join(dir, "img", "c05.png"));
      await page.waitForFunction(() => document.querySelector(".hit .score")?.textContent === "1.000");
      assert.match((await page.getAttribute(".hit >> nth=0", "data-id")) ?? "", /c05\.png$/);

      // Keyboard: focus the box, type, Enter.
      await page.goto(server.url);
      await page.keyboard.type("blue");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => document.querySelectorAll(".hit").length === 24);

      await page.setViewportSize({ width: 390, height: 800 });
      const cols = await page.$eval(
        "#grid",
        (g) => getComputedStyle(g).gridTemplateColumns.split(" ").length,
      );
      assert.equal(cols, 2);
      const shot2 = join(dir, "page-phone.png");
      await page.screenshot({ path: shot2 });
      t.diagnostic(`screenshot: ${shot2}`);

      assert.deepEqual(errors, []);
      const origin = new URL(server.url).origin;
      for (const u of requests) assert.ok(u.startsWith(origin) || u.startsWith("data:"), `fetched ${u}`);
    } finally {
      await browser.close();
    }
  });

  it("safe mode: shown with a policy, on by default, hides what the policy blocks", async (t) => {
    // A second server on a copy of the index, with a policy that blocks one picture.
    const copy = join(dir, "page-safe.index");
    cpSync(index, copy, { recursive: true, filter: (f) => !f.endsWith("writer.lock") });
    const blocked = join(dir, "img", "c10.png");
    const safeServer = await startServer({
      index: copy,
      port: 0,
      policy: {
        name: "no c10",
        concepts: [{ name: "c10", examples: [blocked], threshold: 0.9999, action: "block" }],
      },
    });
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      const all = async () => {
        await page.waitForSelector(".hit >> nth=23");
        await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
        await page.waitForFunction(() =>
          /\d+ results$/.test(document.querySelector("#status")?.textContent ?? ""),
        );
        return page.$$eval(".hit", (els) => els.map((e) => (e as HTMLElement).dataset.id ?? ""));
      };
      await page.goto(`${safeServer.url}/?q=red`);
      assert.equal(await page.isVisible("#safe"), true);
      assert.equal(await page.isChecked("#safe"), true);
      const safe = await all();
      assert.equal(safe.length, 30);
      assert.ok(!safe.includes(blocked));
      const shot = join(dir, "page-safe.png");
      await page.screenshot({ path: shot });
      t.diagnostic(`screenshot: ${shot}`);
      await page.uncheck("#safe");
      await page.waitForFunction(() => /safe=0/.test(location.search));
      const unfiltered = await all();
      assert.equal(unfiltered.length, 31);
      assert.ok(unfiltered.includes(blocked));
      // The shared URL keeps safe mode off.
      await page.goto(page.url());
      assert.equal(await page.isChecked("#safe"), false);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await safeServer.close();
    }
  });
});
