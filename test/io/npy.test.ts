/** .npy: byte-identical headers to NumPy's np.save, round trips, and rejected files. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readNpy, writeNpy } from "../../src/io/npy.js";
import { UserError } from "../../src/util/errors.js";

const dir = mkdtempSync(join(tmpdir(), "juxta-"));
let fileNo = 0;
const tmp = () => join(dir, `${fileNo++}.npy`);

/** A .npy file with a hand-written header (version 1.0) and `data` bytes. */
function handMade(dict: string, data: Uint8Array, magic = "\x93NUMPY"): string {
  const head = Buffer.from(`${magic}\x01\x00`, "latin1");
  const len = Buffer.alloc(2);
  len.writeUInt16LE(dict.length + 1);
  const path = tmp();
  writeFileSync(path, Buffer.concat([head, len, Buffer.from(`${dict}\n`, "latin1"), data]));
  return path;
}

describe("npy", () => {
  test("header matches np.save's bytes; round trip for several shapes", () => {
    // Header texts as NumPy 2.4 writes them for float32 arrays of these shapes (checked with np.save).
    const cases: [number[], string, number][] = [
      [[2, 3], "(2, 3), }", 128],
      [[5], "(5,), }", 128],
      [[], "(), }", 128],
      [[0, 4], "(0, 4), }", 128],
      [[3, 2, 2], "(3, 2, 2), }", 128],
    ];
    for (const [shape, tail, dataStart] of cases) {
      const count = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: count }, (_, i) => (i - 2.5) * 1.25);
      const path = tmp();
      writeNpy(path, data, shape);
      const bytes = readFileSync(path);
      assert.equal(bytes.subarray(0, 8).toString("latin1"), "\x93NUMPY\x01\x00");
      assert.equal(bytes.readUInt16LE(8) + 10, dataStart, `${shape}`);
      const header = bytes.subarray(10, dataStart).toString("latin1");
      const growth = shape.length ? " ".repeat(21 - String(shape[0]).length) : "";
      assert.ok(
        header.startsWith(`{'descr': '<f4', 'fortran_order': False, 'shape': ${tail}${growth}`),
        header,
      );
      assert.ok(/^[^\n]* *\n$/.test(header));
      assert.equal(bytes.length, dataStart + 4 * count);
      const back = readNpy(path);
      assert.deepEqual(back.shape, shape);
      assert.deepEqual([...back.data], [...data]);
    }
  });

  test("reads headers written by other tools (double quotes, no trailing comma, version 2.0)", () => {
    const data = new Uint8Array(Float32Array.from([1, 2]).buffer);
    const path = handMade(`{"shape": (2,), "fortran_order": False, "descr": "<f4"}`, data);
    assert.deepEqual([...readNpy(path).data], [1, 2]);
    const v2 = tmp();
    const dict = Buffer.from("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }\n", "latin1");
    const len = Buffer.alloc(4);
    len.writeUInt32LE(dict.length);
    writeFileSync(v2, Buffer.concat([Buffer.from("\x93NUMPY\x02\x00", "latin1"), len, dict, data]));
    assert.deepEqual(readNpy(v2).shape, [1, 2]);
  });

  test("rejects what it cannot read, naming the file", () => {
    const four = new Uint8Array(4);
    const bad = (path: string, pattern: RegExp) =>
      assert.throws(
        () => readNpy(path),
        (e: unknown) => e instanceof UserError && e.message.includes(path) && pattern.test(e.message),
      );
    const ok = "'fortran_order': False, 'shape': (1,)";
    bad(handMade(`{'descr': '<f4', ${ok}}`, four, "\x93NUMPX"), /bad magic/);
    bad(handMade(`{'descr': '<f8', ${ok}}`, new Uint8Array(8)), /dtype '<f8' is not supported/);
    bad(handMade(`{'descr': '>f4', ${ok}}`, four), /dtype '>f4'/);
    bad(handMade("{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", four), /Fortran-order/);
    bad(handMade(`{'descr': '<f4', ${ok}}`, new Uint8Array(5)), /needs 4 data bytes, the file has 5/);
    bad(handMade(`{'descr': '<f4', ${ok}}`, new Uint8Array(2)), /needs 4 data bytes, the file has 2/);
    bad(handMade("{'descr': '<f4', 'fortran_order': False}", four), /no valid 'shape'/);
    bad(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", four), /non-negative/);
    bad(handMade(`{'descr': '<f4', ${ok}, 'extra': 1}`, four), /unexpected entries/);
    const cut = tmp();
    writeFileSync(cut, Buffer.concat([Buffer.from("\x93NUMPY\x01\x00", "latin1"), Buffer.from([200, 0])]));
    bad(cut, /runs past the end/);
    assert.throws(() => writeNpy(tmp(), new Float32Array(3), [2, 2]), /needs 4 elements, data has 3/);
  });
});
