/**
 * Engine benchmark: a 1024² matmul through the engine against a raw one-node ONNX Runtime MatMul in the same
 * process (alternating rounds), and the per-step overhead of a ~10M-parameter MLP training step beyond the
 * time its six matmuls take on their own.
 */
import ort from "onnxruntime-node";
import { compile, input, Session } from "../engine/index.js";
import { serializeModel } from "../engine/onnx/model.js";
import { fillUniform } from "../engine/random.js";
import { MLP } from "../nn/index.js";
import { TrainStep } from "../nn/train-step.js";
import { AdamW } from "../optim/index.js";
import { median, round, timeRuns } from "./timing.js";

const randomArray = (n: number, key: number) => fillUniform(new Float32Array(n), key, -1, 1) as Float32Array;

async function rawMatMul(m: number, k: number, n: number, transB = false) {
  const model = serializeModel({
    nodes: transB
      ? [
          {
            op: "FusedMatMul",
            domain: "com.microsoft",
            inputs: ["a", "b"],
            outputs: ["c"],
            attrs: { transB: 1 },
          },
        ]
      : [{ op: "MatMul", inputs: ["a", "b"], outputs: ["c"] }],
    initializers: [],
    inputs: [
      { name: "a", dtype: "float32", dims: [m, k] },
      { name: "b", dtype: "float32", dims: transB ? [n, k] : [k, n] },
    ],
    outputs: [{ name: "c", dtype: "float32", dims: [m, n] }],
    domains: transB ? { "com.microsoft": 1 } : {},
  });
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: 0,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
}

export async function benchEngine(opts: { rounds?: number } = {}): Promise<Record<string, number | string>> {
  const rounds = opts.rounds ?? 3;
  const N = 1024;
  const a = randomArray(N * N, 1);
  const b = randomArray(N * N, 2);

  // Engine: traced, compiled and run through Session.
  const ea = input("a", [N, N]);
  const eb = input("b", [N, N]);
  const engine = await Session.create(compile({ c: ea.matmul(eb) }));
  const raw = await rawMatMul(N, N, N);
  const rawFeeds = { a: new ort.Tensor("float32", a, [N, N]), b: new ort.Tensor("float32", b, [N, N]) };
  const flops = 2 * N ** 3;
  const engineTimes: number[] = [];
  const rawTimes: number[] = [];
  // Alternate which goes first: the first timing of a round often catches the machine still ramping up.
  for (let r = 0; r < rounds * 2; r++) {
    const timeEngine = async () =>
      engineTimes.push(...(await timeRuns(() => engine.run({ a, b }), { runs: 9 })));
    const timeRaw = async () => rawTimes.push(...(await timeRuns(() => raw.run(rawFeeds), { runs: 9 })));
    if (r % 2 === 0) {
      await timeEngine();
      await timeRaw();
    } else {
      await timeRaw();
      await timeEngine();
    }
  }
  const gflops = (ms: number) => flops / ms / 1e6;

  // A ~10M-parameter MLP (1280 → 3840 → 1280), batch 256, MSE loss, AdamW.
  const [batch, d, hidden] = [256, 1280, 3840];
  const model = new MLP(d, hidden, "gelu").initialize(0);
  const step = await TrainStep.create({
    model,
    inputs: { x: { shape: [batch, d] }, y: { shape: [batch, d] } },
    loss: ({ x, y }) => ({ loss: model.forward(x!).sub(y!).square().mean() }),
  });
  const opt = new AdamW(step.params);
  const x = randomArray(batch * d, 3);
  const y = randomArray(batch * d, 4);
  let optimizerMs = 0;
  let s = 0;
  const stepTimes = await timeRuns(
    async () => {
      const r = await step.run({ x, y }, s++);
      const t0 = performance.now();
      opt.update(r.grads, 1e-4);
      optimizerMs = performance.now() - t0;
    },
    { runs: 5 },
  );
  // The six matmuls of that step alone: forward (2), input gradients (2), weight gradients (2).
  const shapes: [number, number, number, boolean][] = [
    [batch, d, hidden, true],
    [batch, hidden, d, true],
    [batch, d, hidden, false],
    [batch, hidden, d, false],
    [hidden, batch, d, false],
    [d, batch, hidden, false],
  ];
  let matmulMs = 0;
  for (const [m, k, n, tb] of shapes) {
    const sess = await rawMatMul(m, k, n, tb);
    const feeds = {
      a: new ort.Tensor("float32", randomArray(m * k, 5), [m, k]),
      b: new ort.Tensor("float32", randomArray(k * n, 6), tb ? [n, k] : [k, n]),
    };
    matmulMs += median(await timeRuns(() => sess.run(feeds), { runs: 5 }));
  }
  const stepMs = median(stepTimes);
  return {
    suite: "engine",
    matmul_gflops: round(gflops(median(engineTimes))),
    ort_matmul_gflops: round(gflops(median(rawTimes))),
    engine_vs_ort: round(median(rawTimes) / median(engineTimes), 3),
    mlp_params: model.parameterCount,
    mlp_step_ms: round(stepMs),
    mlp_matmul_ms: round(matmulMs),
    mlp_overhead_ms: round(stepMs - matmulMs),
    mlp_optimizer_ms: round(optimizerMs),
  };
}
