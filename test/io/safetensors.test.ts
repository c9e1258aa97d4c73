/** safetensors: round trips for every dtype, the reference checkpoint written by Python, corrupt files. */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../src/io/half.js";
import { readSafetensors, type SafetensorsInput, writeSafetensors } from "../../src/io/safetensors.js";
import { UserError } from "../../src/util/errors.js";
import { needsShared, sharedData } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "juxta-"));
let fileNo = 0;
const tmp = (name = "t.safetensors") => join(dir, `${fileNo++}-${name}`);

/** A file from a raw header (object or text) and data bytes, for corrupting on purpose. */
function raw(header: unknown, data: Uint8Array | number = 0, lengthField?: bigint): string {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const h = Buffer.from(text, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthField ?? BigInt(h.length));
  const path = tmp();
  writeFileSync(path, Buffer.concat([len, h, typeof data === "number" ? Buffer.alloc(data) : data]));
  return path;
}

function rejects(path: string, pattern: RegExp): void {
  assert.throws(
    () => readSafetensors(path),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
      assert.ok(e.message.includes(path), `message names the file: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe("safetensors round trip", () => {
  test("every dtype, scalar and empty shapes, metadata", () => {
    const tensors: Record<string, SafetensorsInput> = {
      f32: { dtype: "F32", shape: [2, 3], data: Float32Array.from([1.5, -2, 3.25, 0, 1e-30, -7e20]) },
      f64: { dtype: "F64", shape: [3], data: Float64Array.from([Math.PI, -1e300, 5e-324]) },
      f16: { dtype: "F16", shape: [4], data: Float32Array.from([1, -0.5, 65504, 2 ** -24]) },
      bf16: { dtype: "BF16", shape: [2, 2], data: Float32Array.from([1, -3.140625, 2 ** 100, 0]) },
      i64: { dtype: "I64", shape: [3], data: BigInt64Array.from([0n, -(2n ** 63n), 2n ** 62n + 7n]) },
      i32: { dtype: "I32", shape: [1, 2], data: Int32Array.from([-2147483648, 49406]) },
      u8: { dtype: "U8", shape: [5], data: Uint8Array.from([0, 1, 127, 128, 255]) },
      bool: { dtype: "BOOL", shape: [3], data: Uint8Array.from([1, 0, 1]) },
      scalar: { dtype: "F32", shape: [], data: Float32Array.from([42]) },
      empty: { dtype: "F32", shape: [0, 7], data: new Float32Array(0) },
    };
    const path = tmp();
    writeSafetensors(path, tensors, { format: "pt", note: "ünïcode ✓" });
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
    const { tensors: got, metadata } = readSafetensors(path);
    assert.deepEqual(metadata, { format: "pt", note: "ünïcode ✓" });
    assert.deepEqual([...got.keys()].sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const r = got.get(name)!;
      const widened = t.dtype === "F16" || t.dtype === "BF16";
      assert.equal(r.dtype, widened ? "F32" : t.dtype, name);
      assert.equal(r.stored, t.dtype, name);
      assert.deepEqual(r.shape, t.shape, name);
      assert.deepEqual([...r.data], [...t.data], name);
    }
    // Layout of the reference implementation: header padded with spaces to a multiple of 8, 8-byte
    // dtypes first, each tensor aligned, so aligned tensors come back as views of one buffer.
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    assert.match(bytes.subarray(8, 8 + n).toString(), /^\{"__metadata__":.*\} *$/);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
    assert.deepEqual(header.f64.data_offsets, [0, 24]);
    assert.deepEqual(header.i64.data_offsets, [24, 48]);
    assert.equal(got.get("f32")!.data.buffer, got.get("i32")!.data.buffer);
  });

  test("rejects data that does not match its dtype or shape", () => {
    const bad = (t: unknown, pattern: RegExp) =>
      assert.throws(() => writeSafetensors(tmp(), { w: t as SafetensorsInput }), pattern);
    bad(
      { dtype: "F32", shape: [2], data: Float32Array.from([1]) },
      /tensor 'w'.*needs 2 elements, data has 1/,
    );
    bad({ dtype: "I64", shape: [1], data: Int32Array.from([1]) }, /tensor 'w'.*I64 needs a BigInt64Array/);
    bad({ dtype: "BOOL", shape: [1], data: Uint8Array.from([2]) }, /tensor 'w'.*expected 0 or 1/);
    bad({ dtype: "F32", shape: [-1], data: new Float32Array(0) }, /non-negative integers/);
    bad({ dtype: "I8", shape: [1], data: new Int8Array(1) }, /unknown dtype I8/);
  });
});

describe("safetensors written by Python", () => {
  const skip = needsShared("clip-tiny");
  test("clip-tiny model.safetensors: names, shapes, values", { skip }, () => {
    const { tensors, metadata } = readSafetensors(join(sharedData, "clip-tiny", "model.safetensors"));
    assert.deepEqual(metadata, {});
    assert.equal(tensors.size, 78);
    const q = tensors.get("text_model.encoder.layers.0.self_attn.q_proj.weight")!;
    assert.equal(q.dtype, "F32");
    assert.deepEqual(q.shape, [64, 64]);
    assert.deepEqual(tensors.get("visual_projection.weight")!.shape, [64, 96]);
    assert.deepEqual(tensors.get("vision_model.embeddings.patch_embedding.weight")!.shape, [96, 3, 16, 16]);
    assert.deepEqual(tensors.get("text_model.embeddings.token_embedding.weight")!.shape, [49408, 64]);
    let params = 0;
    for (const t of tensors.values()) {
      params += t.data.length;
      if (t.dtype === "F32") assert.ok(t.data.every(Number.isFinite), "finite weights");
    }
    // "3.58 M parameters" (README); position_ids buffers, if any, are integers and tiny.
    assert.ok(Math.abs(params - 3.58e6) < 0.01e6, `${params} parameters`);
  });

  test("clip-tiny io.safetensors: CLIP token ids as int64", { skip }, () => {
    const { tensors } = readSafetensors(join(sharedData, "clip-tiny", "io.safetensors"));
    const ids = tensors.get("input_ids")!;
    assert.equal(ids.dtype, "I64");
    assert.deepEqual(ids.shape, [4, 77]);
    const data = ids.data as BigInt64Array;
    // Every row starts with <|startoftext|> (49406) and holds one <|endoftext|> (49407).
    for (let r = 0; r < 4; r++) {
      const row = [...data.subarray(r * 77, (r + 1) * 77)];
      assert.equal(row[0], 49406n);
      assert.equal(row.filter((v) => v === 49407n).length, 1);
    }
    assert.deepEqual(tensors.get("logits_per_image")!.shape, [3, 4]);
  });
});

describe("safetensors corrupt files", () => {
  const f32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({
    dtype: "F32",
    shape,
    data_offsets: [begin, end],
  });

  test("too short, header length past the end, bad JSON, not an object", () => {
    const short = tmp();
    writeFileSync(short, Buffer.from([1, 2, 3]));
    rejects(short, /too short/);
    rejects(raw({ a: f32(0, 4) }, 4, 1000n), /header length 1000 exceeds/);
    rejects(raw({ a: f32(0, 4) }, 4, 2n ** 63n), /exceeds/);
    rejects(raw('{"a": {"dtype": "F32",', 0), /not valid UTF-8 JSON/);
    rejects(raw("[1, 2]"), /must be a JSON object/);
    rejects(raw(Buffer.from([0x7b, 0xff, 0x7d]).toString("latin1")), /JSON/);
  });

  test("truncated file: the last tensor runs past the data", () => {
    const path = tmp();
    writeSafetensors(path, { a: { dtype: "F32", shape: [4], data: new Float32Array(4) } });
    const bytes = readFileSync(path);
    const cut = tmp();
    writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
    rejects(cut, /tensor 'a' ends at byte 16, past the 13-byte data buffer/);
  });

  test("overlapping, gapped, trailing and misplaced offsets", () => {
    rejects(raw({ a: f32(0, 8), b: f32(4, 12) }, 12), /tensor 'b' bytes \[4, 12\) overlap tensor 'a'/);
    rejects(raw({ a: f32(0, 4), b: f32(8, 12) }, 12), /tensor 'b' starts at byte 8 .*gap/);
    rejects(raw({ a: f32(4, 8) }, 8), /tensor 'a' starts at byte 4/);
    rejects(raw({ a: f32(0, 4) }, 8), /cover 4 bytes but the data buffer has 8/);
    rejects(raw({ a: { dtype: "F32", shape: [1], data_offsets: [8, 4] } }, 8), /tensor 'a'.*begin <= end/);
    rejects(raw({ a: { dtype: "F32", shape: [1], data_offsets: [0] } }, 4), /tensor 'a'.*data_offsets/);
  });

  test("sizes that disagree with shape × dtype", () => {
    rejects(
      raw({ w: f32(0, 12, [2, 2]) }, 12),
      /tensor 'w': shape \[2,2\] of F32 needs 16 bytes but .* span 12/,
    );
    rejects(
      raw({ w: { dtype: "I64", shape: [3], data_offsets: [0, 12] } }, 12),
      /tensor 'w'.*needs 24 bytes/,
    );
    rejects(raw({ w: f32(0, 4, [2 ** 40, 2 ** 40]) }, 4), /tensor 'w'.*impossibly large/);
    rejects(
      raw({ w: f32(0, 4, [1.5] as number[]) }, 4),
      /tensor 'w': shape must be an array of non-negative/,
    );
  });

  test("dtypes, keys, metadata and BOOL values", () => {
    rejects(
      raw({ w: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }, 1),
      /tensor 'w': unknown dtype "Q4"/,
    );
    rejects(
      raw({ w: { dtype: "I8", shape: [1], data_offsets: [0, 1] } }, 1),
      /tensor 'w': dtype I8 is not supported/,
    );
    rejects(raw({ w: { ...f32(0, 4), extra: 1 } }, 4), /tensor 'w': unexpected key 'extra'/);
    rejects(raw({ w: 5 }, 0), /tensor 'w': expected an object/);
    rejects(raw({ __metadata__: { a: 1 }, w: f32(0, 4) }, 4), /__metadata__ 'a' must be a string/);
    rejects(
      raw({ w: { dtype: "BOOL", shape: [2], data_offsets: [0, 2] } }, Uint8Array.from([1, 7])),
      /tensor 'w'.*is 7/,
    );
    const none = readSafetensors(raw({ __metadata__: null, w: f32(0, 4) }, 4));
    assert.deepEqual(none.metadata, {});
  });

  test("unaligned data is copied, not viewed", () => {
    // A 3-byte header puts the F32 data at byte 11 of the file: not 4-aligned.
    const header = JSON.stringify({ w: f32(0, 8) });
    const padded = header.padEnd(header.length + ((4 - ((header.length + 8) % 4)) % 4) + 3);
    const path = raw(padded, new Uint8Array(Float32Array.from([1.25, -8]).buffer));
    const w = readSafetensors(path).tensors.get("w")!;
    assert.deepEqual([...w.data], [1.25, -8]);
  });
});

describe("16-bit floats", () => {
  const bits = (xs: number[]) => Uint16Array.from(xs);
  test("F16 widening of hand-picked patterns is exact", () => {
    const got = [...f16ToF32(bits([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x3e00, 0x8000]))];
    assert.deepEqual(got, [1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 0.333251953125, 1.5, -0]);
    assert.ok(Object.is(got[8], -0));
    const special = f16ToF32(bits([0x7c00, 0xfc00, 0x7e00]));
    assert.deepEqual([special[0], special[1]], [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    assert.ok(Number.isNaN(special[2]));
  });

  test("F16 narrowing rounds to nearest even (values checked against NumPy)", () => {
    const inputs = [1 / 3, 65519, 65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 1.5 * 2 ** -25, 1e-8, -0];
    const more = [1.5 * 2 ** -24, 2 ** -14, 65504, 1e5, -1e5, Number.NaN];
    const got = [...f32ToF16(Float32Array.from([...inputs, ...more]))];
    const want = [0x3555, 0x7bff, 0x7c00, 0x3c00, 0x3c02, 0x0000, 0x0001, 0x0000, 0x8000];
    assert.deepEqual(got.slice(0, 14), [...want, 0x0002, 0x0400, 0x7bff, 0x7c00, 0xfc00]);
    assert.equal(got[14]! & 0x7c00, 0x7c00);
    assert.notEqual(got[14]! & 0x3ff, 0);
    // Every finite F16 value survives F16 → F32 → F16 unchanged.
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00);
    assert.deepEqual(f32ToF16(f16ToF32(all)), all);
  });

  test("BF16 both ways on hand values", () => {
    assert.deepEqual([...bf16ToF32(bits([0x3f80, 0xc000, 0x4049, 0x0001]))], [1, -2, 3.140625, 2 ** -133]);
    const got = [
      ...f32ToBf16(Float32Array.from([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2, 3.4028234663852886e38, -0])),
    ];
    assert.deepEqual(got, [0x3f80, 0x3f80, 0x3f82, 0xc000, 0x7f80, 0x8000]);
    const nan = f32ToBf16(Float32Array.from([Number.NaN]))[0]!;
    assert.ok(Number.isNaN(bf16ToF32(Uint16Array.from([nan]))[0]));
  });
});
