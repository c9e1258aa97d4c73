/**
 * ViT-B/32-sized embedding throughput: the embed suite at the `b32` preset's shapes (random weights: the cost
 * does not depend on their values), batch 32, fp32 and q8 against the peer's towers at the same shapes in
 * fp32 and PyTorch's dynamic int8 (peer_embed.py), full-context and real-caption texts.
 */
import { benchEmbed } from "./embed.js";

export interface B32BenchOptions {
  batch?: number;
  runs?: number;
  peer?: boolean;
}

export async function benchB32(opts: B32BenchOptions = {}): Promise<Record<string, unknown>> {
  const { suite: _, ...result } = await benchEmbed({
    preset: "b32",
    batch: opts.batch ?? 32,
    runs: opts.runs ?? 4,
    peer: opts.peer,
  });
  return result;
}
