import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type DelimitedRecord, parseDelimited, streamDelimited } from "../../src/data/delimited.js";
import { followPath, parseFieldPath } from "../../src/data/fieldpath.js";
import { readManifest, streamManifest } from "../../src/data/manifest.js";
import { openDataset, streamDataset } from "../../src/data/open.js";
import { SkipLog } from "../../src/data/types.js";
import { UserError } from "../../src/util/errors.js";
import { png, tempDir } from "./fixtures.js";

const enc = new TextEncoder();

/** A folder with images a.png, b.png and sub/c.png. */
async function withImages(): Promise<string> {
  const dir = tempDir();
  mkdirSync(join(dir, "sub"));
  for (const f of ["a.png", "b.png", "sub/c.png"]) writeFileSync(join(dir, f), await png());
  return dir;
}

describe("field paths", () => {
  test("dotted keys, indices and [*] fan-out", () => {
    const row = { file: { path: "x.png" }, captions: [{ text: "one" }, { text: "two" }, {}] };
    assert.deepEqual(followPath(row, parseFieldPath("file.path")), [{ ok: true, value: "x.png" }]);
    assert.deepEqual(followPath(row, parseFieldPath("captions[1].text")), [{ ok: true, value: "two" }]);
    assert.deepEqual(followPath(row, parseFieldPath("captions[*].text")), [
      { ok: true, value: "one" },
      { ok: true, value: "two" },
      { ok: false, reason: "missing field: captions[*].text" },
    ]);
    assert.deepEqual(followPath(row, parseFieldPath("captions[5]")), [
      { ok: false, reason: "missing field: captions[5]" },
    ]);
    assert.deepEqual(followPath(row, parseFieldPath("file[0]")), [
      { ok: false, reason: "wrong type: file is not a list" },
    ]);
    assert.equal(parseFieldPath("a[*].b").fansOut, true);
    assert.equal(parseFieldPath("a[0].b").fansOut, false);
  });

  test("malformed paths are UserErrors", () => {
    for (const bad of ["", ".a", "a.", "a..b", "a[x]", "a[0]b", "a[", "a]"])
      assert.throws(() => parseFieldPath(bad), UserError, bad);
  });
});

describe("delimited parser", () => {
  const parse = (s: string, tsv = false) => [
    ...parseDelimited(enc.encode(s), { delimiter: tsv ? "\t" : ",", quotes: !tsv }),
  ];

  test("RFC 4180: quotes, doubled quotes, embedded newlines and delimiters, CRLF, blank lines", () => {
    const recs = parse('a,b\r\n"x, y","say ""hi"""\r\n\r\n"two\nlines",\n3,"last"');
    assert.deepEqual(recs, [
      { line: 1, fields: ["a", "b"] },
      { line: 2, fields: ["x, y", 'say "hi"'] },
      { line: 4, fields: ["two\nlines", ""] },
      { line: 6, fields: ["3", "last"] },
    ]);
  });

  test("malformed and unterminated quotes are reported with their line, reading goes on after the first", () => {
    const recs = parse('a,b\n"x"y,z\nok,1\n"open,2\nmore');
    assert.deepEqual(recs[1], {
      line: 2,
      error: 'malformed quotes: text after a closing quote (write a quote inside a quoted field as "")',
    });
    assert.deepEqual(recs[2], { line: 3, fields: ["ok", "1"] });
    assert.equal(recs.length, 5);
    assert.match((recs[3] as { error: string }).error, /^unterminated quote/);
    assert.equal(recs[3]!.line, 4);
    // Only the line the quote opened on is lost (issue 11, case 14).
    assert.deepEqual(recs[4], { line: 5, fields: ["more"] });
  });

  test("TSV keeps quotes as text; invalid UTF-8 is an error for that record only", () => {
    assert.deepEqual(parse('a\tb\n"q"\tx\n', true), [
      { line: 1, fields: ["a", "b"] },
      { line: 2, fields: ['"q"', "x"] },
    ]);
    const bytes = new Uint8Array([...enc.encode("a,b\n"), 0xff, 0x2c, 0x41, 0x0a, ...enc.encode("c,d\n")]);
    const recs = [...parseDelimited(bytes, { delimiter: ",", quotes: true })];
    assert.equal(recs.length, 3);
    assert.match((recs[1] as { error: string }).error, /^not UTF-8/);
    assert.deepEqual(recs[2], { line: 3, fields: ["c", "d"] });
  });
});

describe("delimited parser in chunks", () => {
  /** Parse `bytes` cut at `cut` as a streaming driver does: the first chunk not final, its rest carried. */
  function inTwo(bytes: Uint8Array, cut: number, tsv: boolean): DelimitedRecord[] {
    const opts = { delimiter: tsv ? "\t" : ",", quotes: !tsv } as const;
    const out: DelimitedRecord[] = [];
    const first = parseDelimited(bytes.subarray(0, cut), opts, { final: false });
    let r = first.next();
    for (; !r.done; r = first.next()) out.push(r.value);
    const rest = new Uint8Array([...bytes.subarray(r.value.consumed, cut), ...bytes.subarray(cut)]);
    out.push(...parseDelimited(rest, opts, { line: r.value.line }));
    return out;
  }

  test("cut at every byte, the records, lines and errors are those of the whole text", () => {
    const texts: [string, boolean][] = [
      ['a,b\r\n"x, y","say ""hi"""\r\n\r\n"two\nlines",\n3,"last"', false],
      ['a,b\n"x"y,z\nok,1\n"open,2\nmore', false],
      ['h,i\n"q""",\n,\n"end"', false],
      ['a\tb\n"q"\tx\n\nlast\t', true],
    ];
    for (const [text, tsv] of texts) {
      const bytes = enc.encode(text);
      const whole = [...parseDelimited(bytes, { delimiter: tsv ? "\t" : ",", quotes: !tsv })];
      for (let cut = 0; cut <= bytes.length; cut++)
        assert.deepEqual(inTwo(bytes, cut, tsv), whole, `${JSON.stringify(text)} cut at ${cut}`);
    }
  });

  test("streamDelimited reads a file in windows: records longer than a window, an unclosed quote", async () => {
    const dir = tempDir();
    const file = join(dir, "big.csv");
    const long = "y".repeat(1_500_000); // longer than a 1 MiB window
    const rows = ["a,b"];
    for (let i = 0; i < 3000; i++)
      rows.push(i % 500 === 7 ? `"${long}\n${i}",x` : `${i},"${"z".repeat(600)}"`);
    rows.push('"never closed,1', "after,2");
    writeFileSync(file, rows.join("\r\n"));
    const whole = [...parseDelimited(readFileSync(file), { delimiter: ",", quotes: true })];
    const streamed: DelimitedRecord[] = [];
    for await (const rec of streamDelimited(file, { delimiter: ",", quotes: true })) streamed.push(rec);
    assert.equal(streamed.length, whole.length);
    assert.deepEqual(streamed, whole);
    assert.match((whole.at(-2) as { error: string }).error, /^unterminated quote/);
  });
});

describe("JSONL manifests", () => {
  test("good rows become samples; each bad row is skipped with file, line and reason", async () => {
    const dir = await withImages();
    const file = join(dir, "data.jsonl");
    const lines = [
      '{"image": "a.png", "text": "a red square", "label": "red"}', // 1 ok
      '{"image": "sub/c.png", "text": "  padded  ", "label": 3}', // 2 ok, label number
      '{"image": "b.png"}', // 3 missing text
      '{"image": "b.png", "text": "   "}', // 4 blank caption
      '{"image": "b.png", "text": 42}', // 5 text not a string
      "{not json", // 6
      '{"image": "nope.png", "text": "gone"}', // 7 missing image file
      "", // 8 blank line: ignored
      '["a list"]', // 9 no image field
      '{"image": "http://example.com/x.jpg", "text": "remote"}', // 10
      '{"text": "no image"}', // 11
      '"just a string"', // 12
    ];
    const bytes = Buffer.concat([
      Buffer.from(`${lines.join("\n")}\n`),
      Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d, 0x0a]), // 13: invalid UTF-8
      Buffer.from('{"image": "b.png", "text": "last one"}'), // 14, no trailing newline
    ]);
    writeFileSync(file, bytes);
    const log = new SkipLog(false, 20);
    const samples = await openDataset(file, {}, log);
    assert.deepEqual(
      samples.map((s) => [s.text, s.label, s.origin.line]),
      [
        ["a red square", "red", 1],
        ["padded", "3", 2],
        ["last one", undefined, 14],
      ],
    );
    assert.deepEqual(samples[0]!.image, { kind: "file", path: join(dir, "a.png") });
    assert.deepEqual(samples[1]!.image, { kind: "file", path: join(dir, "sub", "c.png") });
    const byLine = new Map(log.examples.map((s) => [s.origin.line, s.reason]));
    assert.equal(byLine.get(3), "missing field: text");
    assert.equal(byLine.get(4), "empty caption");
    assert.equal(byLine.get(5), "wrong type: the caption is a number, expected a string");
    assert.match(byLine.get(6)!, /^invalid JSON: /);
    assert.equal(byLine.get(7), `missing image: ${join(dir, "nope.png")}`);
    assert.equal(byLine.get(9), "missing field: image");
    assert.match(byLine.get(10)!, /^remote image: http/);
    assert.equal(byLine.get(11), "missing field: image");
    assert.match(byLine.get(12)!, /^wrong type: expected a JSON object/);
    assert.match(byLine.get(13)!, /^not UTF-8/);
    assert.equal(log.total, 10);
    assert.ok(log.examples.every((s) => s.origin.file === file));
    assert.equal(log.byReason.get("missing field"), 3);
    assert.match(log.summary(), /data\.jsonl:3 \(field 'text'\): missing field: text/);
  });

  test("nested fields with [*] expand one row into several pairs", async () => {
    const dir = await withImages();
    const file = join(dir, "nested.jsonl");
    const rows = [
      {
        file: { path: "a.png" },
        captions: [{ text: "first" }, { text: "second" }, { text: "" }],
        meta: { cls: "x" },
      },
      { file: { path: "b.png" }, captions: [] },
      { file: { path: "b.png" }, captions: [{ text: "only" }] },
    ];
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n"));
    const log = new SkipLog();
    const opts = { imageField: "file.path", textField: "captions[*].text", labelField: "meta.cls" };
    const samples = await openDataset(file, opts, log);
    assert.deepEqual(
      samples.map((s) => [s.text, s.label, s.origin.line]),
      [
        ["first", "x", 1],
        ["second", "x", 1],
        ["only", undefined, 3],
      ],
    );
    assert.deepEqual(
      log.examples.map((s) => [s.origin.line, s.origin.field, s.reason]),
      [
        [1, "captions[*].text", "empty caption"],
        [2, "captions[*].text", "missing field: captions[*].text matched an empty list"],
      ],
    );
    const first = await openDataset(file, { ...opts, textField: "captions[0].text" }, new SkipLog());
    assert.deepEqual(
      first.map((s) => s.text),
      ["first", "only"],
    );
  });

  test("a list of captions without [*] is one sample with several captions, the first as its text", async () => {
    const dir = await withImages();
    const file = join(dir, "several.jsonl");
    const rows = [
      { image: "a.png", text: ["one", "  two ", 3, ""], label: "x" },
      { image: "b.png", text: ["alone"] },
      { image: "b.png", text: [] },
    ];
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n"));
    const log = new SkipLog();
    const samples = await openDataset(file, {}, log);
    assert.deepEqual(
      samples.map((s) => [s.text, s.captions, s.label]),
      [
        ["one", ["one", "two"], "x"],
        ["alone", undefined, undefined],
      ],
    );
    assert.deepEqual(
      log.examples.map((s) => [s.origin.line, s.reason]),
      [
        [1, "wrong type: a caption in the list is a number, expected a string"],
        [1, "empty caption"],
        [3, "empty caption: the list of captions is empty"],
      ],
    );
    // With [*] the same list fans out into one pair per caption, as before.
    const pairs = await openDataset(file, { textField: "text[*]" }, new SkipLog());
    assert.deepEqual(
      pairs.map((s) => [s.text, s.captions]),
      [
        ["one", undefined],
        ["two", undefined],
        ["alone", undefined],
      ],
    );
  });

  test("rows with a label but no text use the template only when one is given", async () => {
    const dir = await withImages();
    const file = join(dir, "labels.jsonl");
    writeFileSync(file, '{"image": "a.png", "label": "golden_retriever"}\n');
    const templated = await openDataset(file, { template: "a {label} pic" }, new SkipLog());
    assert.equal(templated[0]!.text, "a golden retriever pic");
    const log = new SkipLog();
    assert.equal((await openDataset(file, {}, log)).length, 0);
    assert.equal(log.total, 1);
  });

  test("strict mode makes the first bad row a UserError naming file, line and field", async () => {
    const dir = await withImages();
    const file = join(dir, "strict.jsonl");
    writeFileSync(file, '{"image": "a.png", "text": "fine"}\n{"image": "a.png", "text": ""}\n');
    await assert.rejects(openDataset(file, {}, new SkipLog(true)), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.message, `${file}:2 (field 'text'): empty caption (--strict makes bad input fatal)`);
      return true;
    });
  });

  test("checkImages: false skips the existence check", async () => {
    const dir = tempDir();
    const file = join(dir, "m.jsonl");
    writeFileSync(file, '{"image": "later.png", "text": "made later"}\n');
    const samples = await openDataset(file, { checkImages: false }, new SkipLog());
    assert.equal(samples.length, 1);
  });
});

describe("CSV and TSV manifests", () => {
  test("CSV with quotes, embedded newlines, a header row and bad rows", async () => {
    const dir = await withImages();
    const file = join(dir, "data.csv");
    writeFileSync(
      file,
      [
        "image,caption,label",
        'a.png,"a square, red","red"',
        'b.png,"two\nline caption",',
        "sub/c.png,,blue", // line 5 (the caption above spans lines 3-4): empty caption
        "a.png,too,many,fields", // line 6
        "missing.png,hello,x", // line 7
        'b.png,"say ""cheese""",x', // line 8
      ].join("\r\n"),
    );
    const log = new SkipLog();
    const samples = await openDataset(file, { textField: "caption" }, log);
    assert.deepEqual(
      samples.map((s) => [s.text, s.label, s.origin.line]),
      [
        ["a square, red", "red", 2],
        ["two\nline caption", undefined, 3],
        ['say "cheese"', "x", 8],
      ],
    );
    assert.deepEqual(
      log.examples.map((s) => [s.origin.line, s.reason.split(":")[0]]),
      [
        [5, "empty caption"],
        [6, "wrong field count"],
        [7, "missing image"],
      ],
    );
  });

  test("a column named in the options but absent from the header is a UserError", async () => {
    const dir = await withImages();
    const file = join(dir, "cols.csv");
    writeFileSync(file, "path,text\na.png,hi\n");
    await assert.rejects(
      openDataset(file, {}, new SkipLog()),
      /no column 'image' in the header row \(columns: path, text\)/,
    );
    const samples = await openDataset(file, { imageField: "path" }, new SkipLog());
    assert.equal(samples.length, 1);
  });

  test("TSV: tab separated, quotes are literal, column names may contain dots", async () => {
    const dir = await withImages();
    const file = join(dir, "data.tsv");
    writeFileSync(file, 'file.path\ttext\na.png\the said "hi"\nb.png\t\n');
    const log = new SkipLog();
    const samples = await openDataset(file, { imageField: "file.path" }, log);
    assert.deepEqual(
      samples.map((s) => s.text),
      ['he said "hi"'],
    );
    assert.equal(log.examples[0]!.origin.line, 3);
    assert.equal(log.examples[0]!.reason, "empty caption");
  });

  test("streamed (streamManifest, streamDataset): the samples, skips and errors of the whole-file reader", async () => {
    const dir = await withImages();
    const csv = join(dir, "long.csv");
    const rows = ["image,text,label"];
    // Long quoted captions with line breaks, so that records cross the 1 MiB read windows.
    for (let i = 0; i < 700; i++)
      rows.push(
        i % 9 === 4
          ? `gone.png,"row ${i}",x`
          : `${i % 2 ? "a.png" : "sub/c.png"},"row ${i}\n${"w".repeat(3000)}",${i % 3}`,
      );
    rows.splice(20, 0, "a.png,too,many,fields", "", 'b.png,"bad"quote,1', "b.png,,2");
    writeFileSync(csv, rows.join("\n"));
    const tsv = join(dir, "long.tsv");
    writeFileSync(tsv, rows.map((r) => r.replaceAll(",", "\t").replaceAll("\n", " ")).join("\n"));
    for (const [file, format] of [
      [csv, "csv"],
      [tsv, "tsv"],
    ] as const) {
      const logA = new SkipLog(false, 50);
      const logB = new SkipLog(false, 50);
      const logC = new SkipLog(false, 50);
      const whole = await readManifest(file, format, {}, logA);
      const streamed: unknown[] = [];
      for await (const s of streamManifest(file, {}, logB, format)) streamed.push(s);
      const viaOpen: unknown[] = [];
      for await (const s of streamDataset(file, {}, logC)) viaOpen.push(s);
      assert.ok(whole.length > 600, format);
      assert.deepEqual(streamed, whole, format);
      assert.deepEqual(viaOpen, whole, format);
      assert.ok(logA.total >= 80, format);
      for (const log of [logB, logC]) {
        assert.deepEqual([...log.byReason], [...logA.byReason], format);
        assert.deepEqual(log.examples, logA.examples, format);
      }
    }
    // A broken header is the same error either way, before any sample.
    const broken = join(dir, "dup.csv");
    writeFileSync(broken, "image,text,image\na.png,hi,x\n");
    const stream = streamManifest(broken, {}, new SkipLog(), "csv");
    await assert.rejects(stream.next(), /dup\.csv:1: column 'image' appears twice in the header row/);
  });
});
