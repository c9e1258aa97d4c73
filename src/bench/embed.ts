/**
 * Embedding throughput: images and texts per second through a preset's inference graphs (batch 128, weights
 * baked in), at fp32 and q8 (and fp16 on request), against the PyTorch peer's `--mode embed` and PyTorch's
 * own dynamic int8 of the same towers (peer_int8.py) in the same run.
 */
import { rowCosines } from "../apps/drift.js";
import type { WeightFormat } from "../engine/index.js";
import { fillNormal } from "../engine/random.js";
import { CLIP } from "../models/clip.js";
import { ClipEncoders } from "../models/encoders.js";
import { type PresetName, presetConfig } from "../models/presets.js";
import { PEER_INT8_SCRIPT, PEER_SCRIPT, peerUnavailable, runPeer } from "./peer.js";
import { median, round, timeRuns } from "./timing.js";

export interface EmbedBenchOptions {
  preset?: PresetName;
  batch?: number;
  runs?: number;
  peer?: boolean;
  /** Precisions timed side by side (default fp32 and q8); q8 also runs PyTorch's dynamic int8 peer. */
  dtypes?: WeightFormat[];
}

export async function benchEmbed(opts: EmbedBenchOptions = {}): Promise<Record<string, unknown>> {
  const preset = opts.preset ?? "tiny";
  const batch = opts.batch ?? 128;
  const runs = opts.runs ?? 6;
  const dtypes = opts.dtypes ?? ["fp32", "q8"];
  const cfg = presetConfig(preset);
  const model = new CLIP(cfg).initialize(0);
  const s = cfg.vision.imageSize;
  const { contextLength, vocabSize } = cfg.text;
  const images = fillNormal(new Float32Array(batch * 3 * s * s), 11) as Float32Array;
  const tokens = new Int32Array(batch * contextLength);
  for (let i = 0; i < tokens.length; i++) tokens[i] = 1 + (((i * 2654435761) >>> 0) % (vocabSize - 3));
  for (let r = 0; r < batch; r++) tokens[r * contextLength + contextLength - 1] = vocabSize - 1;

  const towers = await Promise.all(
    dtypes.map(async (dtype) => ({
      dtype,
      encoders: await ClipEncoders.create(model, { chunk: batch, weights: dtype }),
      imageTimes: [] as number[],
      textTimes: [] as number[],
      embeds: {
        images: new Float32Array() as Float32Array<ArrayBufferLike>,
        texts: new Float32Array() as Float32Array<ArrayBufferLike>,
      },
    })),
  );
  const round_ = async () => {
    for (const t of towers) {
      t.imageTimes.push(
        ...(await timeRuns(
          async () => {
            t.embeds.images = await t.encoders.encodeImages(images);
          },
          { warmup: 1, runs: Math.max(1, runs / 2) },
        )),
      );
      t.textTimes.push(
        ...(await timeRuns(
          async () => {
            t.embeds.texts = await t.encoders.encodeTexts(tokens);
          },
          { warmup: 1, runs: Math.max(1, runs / 2) },
        )),
      );
    }
  };
  // Rounds around each peer run, so that all see the machine in the same state.
  const skip =
    opts.peer === false
      ? "disabled"
      : (peerUnavailable() ?? (preset !== "tiny" ? "the peer only implements the tiny preset" : undefined));
  const peerArgs = ["--batch", String(batch), "--steps", String(runs)];
  await round_();
  const peer = skip ? undefined : runPeer(["--mode", "embed", ...peerArgs]);
  await round_();
  const peerInt8 =
    skip || !dtypes.includes("q8") ? undefined : runPeer([PEER_SCRIPT, ...peerArgs], 2, PEER_INT8_SCRIPT);
  if (peerInt8) await round_();
  for (const t of towers) await t.encoders.release();

  const result: Record<string, unknown> = {
    suite: "embed",
    preset,
    batch,
    runs_per_round: Math.max(1, runs / 2),
  };
  const rate = (times: number[]) => (batch / median(times)) * 1000;
  for (const t of towers) {
    const prefix = t.dtype === "fp32" ? "embed" : `${t.dtype}`;
    const [img, txt] = [rate(t.imageTimes), rate(t.textTimes)];
    result[`${prefix}_images_per_s`] = round(img);
    result[`${prefix}_texts_per_s`] = round(txt);
    if (peer) {
      result[`${prefix}_images_vs_peer`] = round(img / Number(peer.images_per_s), 3);
      result[`${prefix}_texts_vs_peer`] = round(txt / Number(peer.texts_per_s), 3);
    }
    if (peerInt8 && t.dtype === "q8") {
      result.q8_images_vs_peer_int8 = round(img / Number(peerInt8.images_per_s), 3);
      result.q8_texts_vs_peer_int8 = round(txt / Number(peerInt8.texts_per_s), 3);
    }
  }
  // How far each lower precision moved the embeddings from fp32 on these inputs (random weights).
  const fp32 = towers.find((t) => t.dtype === "fp32");
  for (const t of towers) {
    if (!fp32 || t === fp32) continue;
    const d = cfg.embedDim;
    const [ci, ct] = [
      rowCosines(t.embeds.images, fp32.embeds.images, d),
      rowCosines(t.embeds.texts, fp32.embeds.texts, d),
    ];
    result[`${t.dtype}_image_cosine_median_worst`] = `${ci.median.toFixed(5)} ${ci.worst.toFixed(5)}`;
    result[`${t.dtype}_text_cosine_median_worst`] = `${ct.median.toFixed(5)} ${ct.worst.toFixed(5)}`;
  }
  if (peer) {
    Object.assign(result, {
      peer_images_per_s: peer.images_per_s,
      peer_texts_per_s: peer.texts_per_s,
      peer_openblas_coretype: peer.openblas_coretype ?? "auto",
      // Kept under their earlier names: the fp32 ratios.
      images_vs_peer: result.embed_images_vs_peer,
      texts_vs_peer: result.embed_texts_vs_peer,
    });
    if (peerInt8)
      Object.assign(result, {
        peer_int8_images_per_s: peerInt8.images_per_s,
        peer_int8_texts_per_s: peerInt8.texts_per_s,
        peer_int8_engine: peerInt8.engine,
      });
  } else result.peer = `not run: ${skip}`;
  return result;
}
