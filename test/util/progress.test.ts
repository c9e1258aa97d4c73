/** The progress line: layout, rate and ETA, throttling, TTY vs log output; duration and number formats. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatDuration, formatNumber, Progress } from "../../src/util/progress.js";

class FakeStream {
  chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns?: number,
  ) {}
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  get text(): string {
    return this.chunks.join("");
  }
}

/** A clock the test moves by hand (milliseconds). */
function clock() {
  const c = { t: 1000, now: () => c.t };
  return c;
}

describe("Progress", () => {
  test("terminal: bar, count, fields, smoothed rate and ETA redrawn in place", () => {
    const s = new FakeStream(true);
    const c = clock();
    const p = new Progress({
      label: "train",
      total: 500,
      stream: s,
      unit: "pairs",
      perTick: 32,
      width: 12,
      now: c.now,
    });
    for (let i = 0; i < 120; i++) {
      c.t += 500; // 2 steps/s → 64 pairs/s
      p.tick(1, { loss: 2.3142, lr: 4e-4, T: 14.21 });
    }
    const last = s.chunks.at(-1)!;
    assert.ok(last.startsWith("\r") && last.endsWith("\x1b[K"), JSON.stringify(last));
    assert.equal(
      last.slice(1, -3),
      "train  [###.........] 120/500 24% loss 2.31 lr 4.0e-4 T 14.2 pairs/s 64 ETA 3m10s",
    );
    assert.equal(s.text.includes("\n"), false);
    p.done({ loss: 1.5 });
    assert.ok(s.text.endsWith("\n"));
    const final = s.chunks.at(-2)!;
    assert.ok(final.startsWith("\r") && final.endsWith("\x1b[K"));
    assert.match(final.slice(1, -3), /^train {2}\[###\.+\] 120\/500 24% loss 1\.5 pairs\/s 64 in 1m00s$/);
    const n = s.chunks.length;
    p.tick(1);
    p.done();
    assert.equal(s.chunks.length, n, "nothing after done()");
  });

  test("the rate follows a slowdown smoothly rather than jumping", () => {
    const c = clock();
    const p = new Progress({ label: "x", total: 1e6, stream: new FakeStream(true), now: c.now });
    const rateOf = () => Number(/it\/s (\S+)/.exec(p.render())![1]);
    for (let i = 0; i < 50; i++) {
      c.t += 100;
      p.tick(1);
    }
    assert.equal(rateOf(), 10);
    c.t += 1000; // one slow step (1 it/s)
    p.tick(1);
    const after = rateOf();
    assert.ok(after < 10 && after > 9, `smoothed rate ${after}`);
  });

  test("redraws at most 10 times a second; a burst of ticks in one millisecond counts fully", () => {
    const s = new FakeStream(true);
    const c = clock();
    const p = new Progress({ label: "embed", total: 1000, stream: s, now: c.now });
    for (let i = 0; i < 1000; i++) {
      c.t += 1; // 1 ms per tick → 1000 ticks in 1 s
      p.tick();
    }
    assert.ok(s.chunks.length >= 9 && s.chunks.length <= 11, `${s.chunks.length} redraws`);
    assert.match(p.render(), /1000\/1000 100% it\/s 1000 ETA 0\.0s/);
  });

  test("not a terminal: a plain line every logEvery seconds, no control codes", () => {
    const s = new FakeStream(false);
    const c = clock();
    const p = new Progress({ label: "eval", total: 100, stream: s, logEvery: 5, now: c.now });
    for (let i = 0; i < 100; i++) {
      c.t += 200;
      p.tick(1, { acc: 0.5 });
    }
    p.done();
    const lines = s.text.split("\n");
    assert.equal(lines.at(-1), "");
    // Ticks at 0.2 s … 20 s: lines at the first tick and 5, 10, 15 s later, then the final line.
    assert.equal(lines.length - 1, 4 + 1);
    assert.ok(!s.text.includes("\r") && !s.text.includes("\x1b"));
    assert.match(lines[0]!, /^eval {2}\[\.{20}\] 1\/100 1% acc 0\.5 it\/s 5 ETA 20s$/);
    assert.match(lines.at(-2)!, /^eval {2}\[#{20}\] 100\/100 100% acc 0\.5 it\/s 5 in 20s$/);
  });

  test("no total: a count and a rate, no bar or ETA; long lines fit the terminal", () => {
    const s = new FakeStream(true, 30);
    const c = clock();
    const p = new Progress({ label: "scan", stream: s, now: c.now });
    c.t += 2000;
    p.tick(10, { file: "a-very-long-file-name-that-overflows.jpg" });
    const line = s.chunks.at(-1)!.slice(1, -3);
    assert.equal(line.length, 29);
    assert.equal(p.render(), "scan  10 file a-very-long-file-name-that-overflows.jpg it/s 5");
  });

  test("log() prints above the bar and redraws it", () => {
    const s = new FakeStream(true);
    const c = clock();
    const p = new Progress({ label: "train", total: 10, stream: s, now: c.now });
    c.t += 100;
    p.tick();
    s.chunks.length = 0;
    p.log("eval: recall@1 0.42");
    assert.equal(s.chunks[0], "\r\x1b[K");
    assert.equal(s.chunks[1], "eval: recall@1 0.42\n");
    assert.match(s.chunks[2]!, /^\rtrain {2}\[##\.+\] 1\/10 10%/);
  });
});

describe("formatting", () => {
  test("formatDuration", () => {
    const cases: [number, string][] = [
      [0, "0.0s"],
      [0.44, "0.4s"],
      [9.94, "9.9s"],
      [14.2, "14s"],
      [59.6, "1m00s"],
      [100, "1m40s"],
      [3599.4, "59m59s"],
      [3600, "1h00m"],
      [7500, "2h05m"],
      [86400 * 3 + 3600 * 4, "3d04h"],
      [Number.POSITIVE_INFINITY, "?"],
      [Number.NaN, "?"],
      [-1, "?"],
    ];
    for (const [s, want] of cases) assert.equal(formatDuration(s), want, `${s}`);
  });

  test("formatNumber", () => {
    const cases: [number, string][] = [
      [0, "0"],
      [63, "63"],
      [-500, "-500"],
      [2.3142, "2.31"],
      [14.21, "14.2"],
      [0.04567, "0.0457"],
      [4e-4, "4.0e-4"],
      [-1.26e-7, "-1.3e-7"],
      [999.7, "1000"],
      [12345.6, "12346"],
      [2.5e20, "2.50e+20"],
      [1.23456e16 + 0.5, "1.23e+16"],
      [Number.NaN, "NaN"],
      [Number.NEGATIVE_INFINITY, "-inf"],
    ];
    for (const [x, want] of cases) assert.equal(formatNumber(x), want, `${x}`);
  });
});
