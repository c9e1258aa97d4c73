/** What a training report shows; every part but the title, run and metrics is optional. */
import type { RefLine } from "./svg.js";

/** One logged training step (RUN/metrics.jsonl). Non-finite values leave a gap in the curve. */
export interface TrainingStep {
  step: number;
  loss: number;
  lr?: number;
  /** CLIP and SigLIP: the learned factor the similarities are multiplied by, exp(t) = 1/temperature. */
  logitScale?: number;
  /** SigLIP's learned bias b. */
  bias?: number;
  /** In-batch top-1 accuracy: the share of queries whose positive scores highest among the candidates. */
  accuracy?: number;
  /** The gradients' global L2 norm before clipping. */
  gradNorm?: number;
  /** Triplet runs: the share of mined triplets that still violate the margin. */
  active?: number;
}

/** Where a model that cannot tell the candidates apart sits (the loss of uniform scores, 1/candidates). */
export interface ChanceLevels {
  loss?: RefLine;
  accuracy?: RefLine;
}

export interface ReportData {
  title: string;
  /** Shown as given (e.g. an ISO date); the renderer reads no clock, so the same data gives the same file. */
  createdAt?: string;
  /** Facts about the run, shown as a table in this order (undefined values are left out). */
  run: { preset?: string; steps?: number; [key: string]: string | number | boolean | undefined };
  /** Training log: one entry per logged step. */
  metrics: TrainingStep[];
  /** Chance levels of the training loss and in-batch accuracy (they depend on the method and batch). */
  chance?: ChanceLevels;
  /** Evaluations during training: one line per metric name over the steps where it was measured. */
  evals: { step: number; values: Record<string, number> }[];
  /**
   * Similarities of one batch: `matrix` is n×n row-major, row i = image i, column j = text j, and the
   * matching pairs on the diagonal; `texts[i]` is pair i's caption.
   */
  similarity?: { matrix: Float32Array; n: number; texts: string[] };
  /** Embeddings to map in 2-D by PCA: `points` is n×dim row-major, `labels[i]` colours point i. */
  embeddings?: { points: Float32Array; n: number; dim: number; labels: string[] };
  /** Text-to-image retrievals: each query with its best images (PNG bytes), best first. */
  retrievals?: { query: string; results: { score: number; png: Uint8Array; caption?: string }[] }[];
}
