/**
 * Embedding throughput: images and texts per second through a preset's inference graphs (batch 128, weights
 * baked in), against the PyTorch peer's `--mode embed` in the same run.
 */
import { fillNormal } from "../engine/random.js";
import { CLIP } from "../models/clip.js";
import { ClipEncoders } from "../models/encoders.js";
import { type PresetName, presetConfig } from "../models/presets.js";
import { peerUnavailable, runPeer } from "./peer.js";
import { median, round, timeRuns } from "./timing.js";

export interface EmbedBenchOptions {
  preset?: PresetName;
  batch?: number;
  runs?: number;
  peer?: boolean;
}

export async function benchEmbed(opts: EmbedBenchOptions = {}): Promise<Record<string, unknown>> {
  const preset = opts.preset ?? "tiny";
  const batch = opts.batch ?? 128;
  const runs = opts.runs ?? 6;
  const cfg = presetConfig(preset);
  const model = new CLIP(cfg).initialize(0);
  const encoders = await ClipEncoders.create(model, { chunk: batch });
  const s = cfg.vision.imageSize;
  const { contextLength, vocabSize } = cfg.text;
  const images = fillNormal(new Float32Array(batch * 3 * s * s), 11) as Float32Array;
  const tokens = new Int32Array(batch * contextLength);
  for (let i = 0; i < tokens.length; i++) tokens[i] = 1 + (((i * 2654435761) >>> 0) % (vocabSize - 3));
  for (let r = 0; r < batch; r++) tokens[r * contextLength + contextLength - 1] = vocabSize - 1;

  const imageTimes: number[] = [];
  const textTimes: number[] = [];
  const round_ = async () => {
    imageTimes.push(...(await timeRuns(() => encoders.encodeImages(images), { warmup: 1, runs: runs / 2 })));
    textTimes.push(...(await timeRuns(() => encoders.encodeTexts(tokens), { warmup: 1, runs: runs / 2 })));
  };
  // Two rounds around the peer's run, so that both see the machine in the same state.
  await round_();
  const skip = opts.peer === false ? "disabled" : peerUnavailable();
  const peer =
    skip || preset !== "tiny"
      ? undefined
      : runPeer(["--mode", "embed", "--batch", String(batch), "--steps", String(runs)]);
  await round_();
  await encoders.release();
  const imagesPerS = (batch / median(imageTimes)) * 1000;
  const textsPerS = (batch / median(textTimes)) * 1000;
  const result: Record<string, unknown> = {
    suite: "embed",
    preset,
    batch,
    embed_images_per_s: round(imagesPerS),
    embed_texts_per_s: round(textsPerS),
  };
  if (peer) {
    Object.assign(result, {
      peer_images_per_s: peer.images_per_s,
      peer_texts_per_s: peer.texts_per_s,
      peer_openblas_coretype: peer.openblas_coretype ?? "auto",
      images_vs_peer: round(imagesPerS / Number(peer.images_per_s), 3),
      texts_vs_peer: round(textsPerS / Number(peer.texts_per_s), 3),
    });
  } else result.peer = `not run: ${skip ?? "the peer only implements the tiny preset"}`;
  return result;
}
