/**
 * Embedding throughput: images and texts per second through a preset's inference graphs (weights baked in),
 * at fp32 and q8 (and fp16 on request), against the PyTorch peer in the same run: its fp32 (`--mode embed`
 * of ../shared/bench/peer/clip_torch.py at tiny; its towers at b32's shapes otherwise) and PyTorch's own
 * dynamic int8 of the same towers (peer_embed.py).
 *
 * Texts are timed two ways, reported under separate names and never one for the other:
 * - full context (`*_texts_per_s`): every row as long as the context, like for like with the peer's own
 *   benchmark (random ids ending in the end token);
 * - real captions (`*_texts_captions_per_s`): the emoji test split's captions (captions.ts), what a user
 *   embeds. Juxta runs them as its handle does (rows shortest first, each chunk at the shortest compiled
 *   length that holds it: encoders.ts); the peer gets the same ids padded to the context, as open_clip pads.
 */
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rowCosines } from "../apps/drift.js";
import type { WeightFormat } from "../engine/index.js";
import { fillNormal } from "../engine/random.js";
import { CLIP } from "../models/clip.js";
import { ClipEncoders } from "../models/encoders.js";
import { type PresetName, presetConfig } from "../models/presets.js";
import { benchCaptions } from "./captions.js";
import { PEER_EMBED_SCRIPT, PEER_SCRIPT, type PeerResult, peerUnavailable, runPeer } from "./peer.js";
import { median, round, timeRuns } from "./timing.js";

export interface EmbedBenchOptions {
  preset?: PresetName;
  batch?: number;
  runs?: number;
  peer?: boolean;
  /** Precisions timed side by side (default fp32 and q8); q8 also runs PyTorch's dynamic int8 peer. */
  dtypes?: WeightFormat[];
  /** Also time the emoji test captions (default true; skipped with its reason where they are absent). */
  captions?: boolean;
}

/** The presets whose towers peer_embed.py builds from the peer's classes. */
const PEER_PRESETS: readonly PresetName[] = ["tiny", "b32"];

export async function benchEmbed(opts: EmbedBenchOptions = {}): Promise<Record<string, unknown>> {
  const preset = opts.preset ?? "tiny";
  const batch = opts.batch ?? 128;
  const runs = opts.runs ?? 6;
  const perRound = Math.max(1, Math.round(runs / 2));
  const dtypes = opts.dtypes ?? ["fp32", "q8"];
  const cfg = presetConfig(preset);
  const model = new CLIP(cfg).initialize(0);
  const s = cfg.vision.imageSize;
  const { contextLength, vocabSize } = cfg.text;
  const images = fillNormal(new Float32Array(batch * 3 * s * s), 11) as Float32Array;
  // Full-context rows: random ids, the end token (the largest id) last.
  const tokens = new Int32Array(batch * contextLength);
  for (let i = 0; i < tokens.length; i++) tokens[i] = 1 + (((i * 2654435761) >>> 0) % (vocabSize - 3));
  for (let r = 0; r < batch; r++) tokens[r * contextLength + contextLength - 1] = vocabSize - 1;
  const captions = opts.captions === false ? "disabled" : await benchCaptions(cfg);

  const towers = await Promise.all(
    dtypes.map(async (dtype) => ({
      dtype,
      encoders: await ClipEncoders.create(model, { chunk: batch, weights: dtype }),
      times: { images: [] as number[], texts: [] as number[], captions: [] as number[] },
      embeds: {
        images: new Float32Array() as Float32Array<ArrayBufferLike>,
        texts: new Float32Array() as Float32Array<ArrayBufferLike>,
        captions: new Float32Array() as Float32Array<ArrayBufferLike>,
      },
    })),
  );
  const feeds = {
    images: (e: ClipEncoders) => e.encodeImages(images),
    texts: (e: ClipEncoders) => e.encodeTexts(tokens),
    captions: (e: ClipEncoders) => e.encodeTexts(typeof captions === "string" ? tokens : captions.ids),
  };
  const kinds = (typeof captions === "string" ? ["images", "texts"] : ["images", "texts", "captions"]) as (
    | "images"
    | "texts"
    | "captions"
  )[];
  const round_ = async () => {
    for (const t of towers)
      for (const kind of kinds)
        t.times[kind].push(
          ...(await timeRuns(
            async () => {
              t.embeds[kind] = await feeds[kind](t.encoders);
            },
            { warmup: 1, runs: perRound },
          )),
        );
  };

  // The peer runs: [name, script, arguments]. Juxta's rounds go around each, so all see the machine alike.
  const skip =
    opts.peer === false
      ? "disabled"
      : (peerUnavailable() ??
        (PEER_PRESETS.includes(preset)
          ? undefined
          : `the peer's towers have ${PEER_PRESETS.join(" and ")} shapes`));
  const common = ["--batch", String(batch), "--steps", String(runs)];
  const jobs: [string, string, string[]][] = [];
  let captionsFile: string | undefined;
  if (!skip) {
    const given: string[] = [];
    if (typeof captions !== "string") {
      captionsFile = join(tmpdir(), `juxta-bench-captions-${process.pid}.i32`);
      writeFileSync(captionsFile, captions.ids);
      given.push("--tokens", captionsFile);
    }
    const own = (dtype: string, extra: string[] = []) => [
      PEER_SCRIPT,
      "--preset",
      preset,
      "--dtype",
      dtype,
      ...given,
      ...extra,
      ...common,
    ];
    if (preset === "tiny") {
      jobs.push(["peer", PEER_SCRIPT, ["--mode", "embed", ...common]]);
      if (given.length) jobs.push(["peer_captions", PEER_EMBED_SCRIPT, own("fp32", ["--texts-only"])]);
    } else jobs.push(["peer", PEER_EMBED_SCRIPT, own("fp32")]);
    if (dtypes.includes("q8")) jobs.push(["peer_int8", PEER_EMBED_SCRIPT, own("int8")]);
  }
  const peers: Record<string, PeerResult> = {};
  try {
    await round_();
    for (const [name, script, args] of jobs) {
      // The tiny peer's own script has no given-texts mode: its towers' figure on the captions joins it.
      const r = runPeer(args, 2, script);
      if (name === "peer_captions")
        peers.peer = { ...(peers.peer as PeerResult), texts_given_per_s: r.texts_given_per_s };
      else peers[name] = r;
      await round_();
    }
  } finally {
    for (const t of towers) await t.encoders.release();
    if (captionsFile) rmSync(captionsFile, { force: true });
  }

  const result: Record<string, unknown> = { suite: "embed", preset, batch, runs_per_round: perRound };
  if (typeof captions === "string") result.captions = `not run: ${captions}`;
  else
    result.captions =
      `emoji test split, ${captions.rows} captions, median ${captions.medianTokens} and longest ` +
      `${captions.longestTokens} of ${contextLength} tokens (${captions.tokenizer}); the peer pads them to ${contextLength}`;
  const peerFp32 = peers.peer;
  const peerInt8 = peers.peer_int8;
  const ratio = (x: number, peer: PeerResult | undefined, key: string) =>
    peer?.[key] === undefined ? undefined : round(x / Number(peer[key]), 3);
  for (const t of towers) {
    const prefix = t.dtype === "fp32" ? "embed" : t.dtype;
    const img = (batch / median(t.times.images)) * 1000;
    const txt = (batch / median(t.times.texts)) * 1000;
    const cap = typeof captions === "string" ? undefined : (captions.rows / median(t.times.captions)) * 1000;
    const figures: Record<string, number | undefined> = {
      [`${prefix}_images_per_s`]: round(img),
      [`${prefix}_texts_per_s`]: round(txt),
      [`${prefix}_texts_captions_per_s`]: cap === undefined ? undefined : round(cap),
      [`${prefix}_images_vs_peer`]: ratio(img, peerFp32, "images_per_s"),
      [`${prefix}_texts_vs_peer`]: ratio(txt, peerFp32, "texts_per_s"),
      [`${prefix}_texts_captions_vs_peer`]:
        cap === undefined ? undefined : ratio(cap, peerFp32, "texts_given_per_s"),
    };
    if (t.dtype === "q8")
      Object.assign(figures, {
        q8_images_vs_peer_int8: ratio(img, peerInt8, "images_per_s"),
        q8_texts_vs_peer_int8: ratio(txt, peerInt8, "texts_per_s"),
        q8_texts_captions_vs_peer_int8:
          cap === undefined ? undefined : ratio(cap, peerInt8, "texts_given_per_s"),
      });
    for (const [k, v] of Object.entries(figures)) if (v !== undefined) result[k] = v;
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
  if (skip) result.peer = `not run: ${skip}`;
  for (const [name, p] of Object.entries(peers)) {
    for (const key of ["images_per_s", "texts_per_s", "texts_given_per_s"] as const)
      if (p[key] !== undefined)
        result[`${name}_${key === "texts_given_per_s" ? "texts_captions_per_s" : key}`] = p[key];
  }
  if (peerFp32) {
    result.peer_openblas_coretype = peerFp32.openblas_coretype ?? "auto";
    // Kept under their earlier names: the fp32 ratios.
    result.images_vs_peer = result.embed_images_vs_peer;
    result.texts_vs_peer = result.embed_texts_vs_peer;
  }
  if (peerInt8) result.peer_int8_engine = peerInt8.engine;
  return result;
}
