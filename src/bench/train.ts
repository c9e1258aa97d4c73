/**
 * Training throughput: the CLIP preset's full step (forward, loss, backward, AdamW) on random data, timed
 * against the PyTorch peer in the same run. Peak RSS is this process's high-water mark, reset before the
 * model is built (Linux's clear_refs), so earlier suites do not count.
 */
import { writeFileSync } from "node:fs";
import { fillNormal } from "../engine/random.js";
import { CLIP } from "../models/clip.js";
import { type PresetName, presetConfig } from "../models/presets.js";
import { AdamW } from "../optim/index.js";
import { METHODS } from "../train/methods/index.js";
import { createPairStep } from "../train/pairs.js";
import { peerUnavailable, runPeer } from "./peer.js";
import { median, peakRssMb, round } from "./timing.js";

export interface TrainBenchOptions {
  preset?: PresetName;
  batch?: number;
  steps?: number;
  peer?: boolean;
}

function resetPeakRss(): void {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {}
}

export async function benchTrain(opts: TrainBenchOptions = {}): Promise<Record<string, unknown>> {
  const preset = opts.preset ?? "tiny";
  const batch = opts.batch ?? 128;
  const steps = opts.steps ?? 6;
  resetPeakRss();
  const cfg = presetConfig(preset);
  const model = new CLIP(cfg).initialize(0);
  const step = await createPairStep(METHODS.clip, model, { batch });
  const opt = new AdamW(step.params, {
    ...METHODS.clip.adam,
    weightDecay: METHODS.clip.defaults.weightDecay,
  });
  const { imageSize } = cfg.vision;
  const { contextLength, vocabSize } = cfg.text;
  const images = fillNormal(new Float32Array(batch * 3 * imageSize * imageSize), 7) as Float32Array;
  const tokens = new Int32Array(batch * contextLength);
  for (let i = 0; i < tokens.length; i++) tokens[i] = 1 + (((i * 2654435761) >>> 0) % (vocabSize - 3));
  for (let r = 0; r < batch; r++) tokens[r * contextLength + contextLength - 1] = vocabSize - 1;

  let s = 0;
  const times: number[] = [];
  const optimizerTimes: number[] = [];
  let loss = Number.NaN;
  const runSteps = async (n: number, record: boolean) => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await step.run({ images, tokens }, s++);
      const t1 = performance.now();
      opt.update(r.grads, 5e-4);
      if (record) {
        times.push(performance.now() - t0);
        optimizerTimes.push(performance.now() - t1);
      }
      loss = r.loss;
    }
  };
  await runSteps(2, false);
  // Juxta's steps are split around the peer's run, so that both see the machine in the same state.
  await runSteps(Math.ceil(steps / 2), true);
  const ours = { peak_rss_mb: peakRssMb() };
  const skip = opts.peer === false ? "disabled" : peerUnavailable();
  const peer = skip
    ? undefined
    : runPeer(["--mode", "train", "--batch", String(batch), "--steps", String(steps)]);
  await runSteps(Math.floor(steps / 2), true);
  const stepMs = median(times);
  const pairsPerS = (batch / stepMs) * 1000;
  const result: Record<string, unknown> = {
    suite: "train",
    preset,
    batch,
    params: model.parameterCount,
    step_ms: round(stepMs),
    optimizer_ms: round(median(optimizerTimes)),
    train_pairs_per_s: round(pairsPerS),
    peak_rss_mb: Math.max(ours.peak_rss_mb, peakRssMb()),
    loss: round(loss, 4),
  };
  if (peer) {
    const peerPairs = Number(peer.images_per_s);
    Object.assign(result, {
      peer_train_pairs_per_s: peerPairs,
      peer_step_ms: peer.step_ms_median,
      peer_peak_rss_mb: peer.peak_rss_mb,
      peer_params: Number(peer.params_image) + Number(peer.params_text),
      peer_torch: peer.torch,
      peer_openblas_coretype: peer.openblas_coretype ?? "auto",
      train_vs_peer: round(pairsPerS / peerPairs, 3),
      rss_vs_peer: round((result.peak_rss_mb as number) / peer.peak_rss_mb, 3),
    });
  } else result.peer = `not run: ${skip}`;
  await step.release();
  return result;
}
