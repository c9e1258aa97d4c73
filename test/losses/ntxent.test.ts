/** NT-Xent: PyTorch fixtures, a hand-computed case, agreement with SupCon, gradient check. */
import { describe, test } from "node:test";
import { concat } from "../../src/engine/index.js";
import { ntxentLoss, type Similarity, supConLoss } from "../../src/losses/index.js";
import { gradcheck } from "../engine/gradcheck.js";
import { assertClose, checkFixture, evaluate, fixtures, rows } from "./run.js";

describe("ntxentLoss vs PyTorch", () => {
  for (const c of fixtures("ntxent")) {
    test(c.name, () =>
      checkFixture(
        c,
        (t) =>
          ntxentLoss(t.a!, t.b!, {
            temperature: c.opts.temperature as number,
            similarity: c.opts.similarity as Similarity,
          }).loss,
      ),
    );
  }
});

test("ntxentLoss by hand: two samples, identical orthogonal views, τ = 1", async () => {
  const views = rows([
    [1, 0],
    [0, 1],
  ]);
  const got = await evaluate(
    { a: views, b: views },
    undefined,
    (t) => ntxentLoss(t.a!, t.b!, { temperature: 1 }).loss,
    [],
  );
  // each anchor: positive at cos 1, two negatives at cos 0 → −log(e / (e + 2))
  assertClose([got.loss], [Math.log1p(2 / Math.E)], "loss", 1e-12);
});

test("ntxentLoss equals supConLoss without labels on the same two views", async () => {
  const c = fixtures("ntxent")[0]!;
  const t = c.opts.temperature as number;
  const n = c.inputs.a!.shape[0] as number;
  const d = c.inputs.a!.shape[1] as number;
  const sup = await evaluate(
    c.inputs,
    undefined,
    (x) => {
      const features = concat([x.a!.unsqueeze(1), x.b!.unsqueeze(1)], 1).reshape([n, 2, d]);
      return supConLoss(features, undefined, { temperature: t, baseTemperature: t }).loss;
    },
    [],
  );
  assertClose([sup.loss], [c.loss], "supcon loss");
});

test("ntxentLoss gradients vs finite differences (neg_l2)", async () => {
  await gradcheck(
    [
      [3, 4],
      [3, 4],
    ],
    (a, b) => ntxentLoss(a, b, { temperature: 0.7, similarity: "neg_l2" }).loss,
  );
});
