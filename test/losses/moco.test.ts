/** MoCo InfoNCE with a queue: PyTorch fixtures, a hand-computed case, batch checks, the Queue class. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { input } from "../../src/engine/index.js";
import { mocoLoss, Queue } from "../../src/losses/index.js";
import { UserError } from "../../src/util/errors.js";
import { gradcheck } from "../engine/gradcheck.js";
import { assertClose, checkFixture, evaluate, fixtures, rows } from "./run.js";

describe("mocoLoss vs PyTorch", () => {
  for (const c of fixtures("moco")) {
    test(c.name, () =>
      checkFixture(
        c,
        (t) => mocoLoss(t.q!, t.k!, t.queue!, { temperature: c.opts.temperature as number }).loss,
      ),
    );
  }
});

test("mocoLoss by hand: the key matches the query, one orthogonal negative, τ = 1", async () => {
  const got = await evaluate(
    { q: rows([[2, 0]]), k: rows([[1, 0]]), queue: rows([[0, 3]]) },
    undefined,
    (t) => mocoLoss(t.q!, t.k!, t.queue!, { temperature: 1 }).loss,
    [],
  );
  assertClose([got.loss], [Math.log1p(Math.exp(-1))], "loss", 1e-12); // −log(e¹ / (e¹ + e⁰))
});

test("mocoLoss: a queue that is not a multiple of the batch is a UserError", () => {
  assert.throws(
    () => mocoLoss(input("q", [4, 8]), input("k", [4, 8]), input("queue", [10, 8])),
    (e: unknown) => e instanceof UserError && /multiple of the batch size 4/.test(e.message),
  );
});

test("mocoLoss gradients vs finite differences (queries)", async () => {
  await gradcheck(
    [
      [2, 3],
      [2, 3],
      [4, 3],
    ],
    (q, k, queue) => mocoLoss(q, k, queue).loss,
    { fixed: { 1: fixedData(6, 1), 2: fixedData(12, 2) } },
  );
});

function fixedData(n: number, seed: number) {
  return {
    data: Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7 + i * 3.1)),
    dtype: "float64" as const,
  };
}

describe("Queue", () => {
  test("starts with seeded unit rows", () => {
    const a = new Queue(4, 3, { seed: 5 });
    const b = new Queue(4, 3, { seed: 5 });
    assert.deepEqual(a.data, b.data);
    assert.notDeepEqual(a.data, new Queue(4, 3, { seed: 6 }).data);
    for (let r = 0; r < 4; r++) {
      const row = Array.from(a.data.subarray(r * 3, r * 3 + 3));
      assertClose([Math.hypot(...row)], [1], `row ${r} norm`, 1e-6);
    }
  });

  test("enqueue replaces the oldest rows, wrapping around", () => {
    const q = new Queue(4, 2, { dtype: "float64" });
    q.enqueue([1, 1, 2, 2]);
    q.enqueue([3, 3, 4, 4]);
    assert.deepEqual(Array.from(q.data), [1, 1, 2, 2, 3, 3, 4, 4]);
    q.enqueue([5, 5, 6, 6]);
    assert.deepEqual(Array.from(q.data), [5, 5, 6, 6, 3, 3, 4, 4]);
  });

  test("a batch that does not divide the size, or a partial row, is a UserError", () => {
    const q = new Queue(6, 2);
    assert.throws(
      () => q.enqueue([1, 2, 3, 4, 5, 6, 7, 8]),
      (e: unknown) => e instanceof UserError && /multiple/.test(e.message),
    );
    assert.throws(() => q.enqueue([1, 2, 3]), UserError);
    assert.throws(() => new Queue(0, 2), UserError);
  });
});
