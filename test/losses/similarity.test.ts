/** Pairwise similarities and distances: PyTorch fixtures and hand-computed values. */
import { describe, test } from "node:test";
import { constant, type Tensor } from "../../src/engine/index.js";
import { type Distance, distance, type Similarity, similarity } from "../../src/losses/index.js";
import { gradcheck } from "../engine/gradcheck.js";
import { assertClose, checkFixture, evaluate, type FixtureTensor, fixtures, rows } from "./run.js";

describe("similarity and distance vs PyTorch", () => {
  for (const c of fixtures("similarity")) {
    test(c.name, async () => {
      const w = c.opts.weights as FixtureTensor;
      const weights = constant(Float64Array.from(w.data), w.shape, "float64");
      const kind = c.opts.kind as string;
      await checkFixture(c, (t) => {
        const a = t.a!;
        const m =
          c.opts.fn === "similarity"
            ? similarity(a, t.b!, kind as Similarity)
            : distance(a, c.opts.fn === "self_distance" ? a : t.b!, kind as Distance);
        return m.mul(weights).sum();
      });
    });
  }
});

describe("similarity and distance by hand", () => {
  const a = rows([
    [1, 0],
    [0, 2],
  ]);
  const b = rows([[3, 4]]);
  const entries = async (f: Parameters<typeof evaluate>[2]) => {
    const pick = (i: number) =>
      evaluate(
        { a, b },
        undefined,
        (t, l) =>
          f(t, l)
            .slice(0, i, i + 1)
            .sum(),
        [],
      ).then((r) => r.loss);
    return [await pick(0), await pick(1)];
  };
  const cases: [string, (t: Record<string, Tensor>) => Tensor, number[]][] = [
    ["cosine", (t) => similarity(t.a!, t.b!, "cosine"), [0.6, 0.8]],
    ["dot", (t) => similarity(t.a!, t.b!, "dot"), [3, 8]],
    ["neg_l2", (t) => similarity(t.a!, t.b!, "neg_l2"), [-Math.sqrt(20), -Math.sqrt(13)]],
    ["l2", (t) => distance(t.a!, t.b!, "l2"), [Math.sqrt(20), Math.sqrt(13)]],
    ["squared_l2", (t) => distance(t.a!, t.b!, "squared_l2"), [20, 13]],
    ["cosine distance", (t) => distance(t.a!, t.b!, "cosine"), [0.4, 0.2]],
  ];
  for (const [name, f, expected] of cases) {
    test(name, async () => {
      assertClose(await entries(f), expected, name, 1e-12);
    });
  }
});

describe("similarity gradients vs finite differences", () => {
  test("neg_l2 between different sets", async () => {
    await gradcheck(
      [
        [3, 4],
        [5, 4],
      ],
      (a, b) => similarity(a, b, "neg_l2"),
    );
  });
  test("cosine distance", async () => {
    await gradcheck(
      [
        [3, 4],
        [2, 4],
      ],
      (a, b) => distance(a, b, "cosine"),
    );
  });
});
