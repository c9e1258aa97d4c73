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
  run: Record<string, string | number | boolean | undefined>;
  /** Training log: one entry per logged step. */
  metrics: TrainingStep[];
  /** Chance levels of the training loss and in-batch accuracy (they depend on the method and batch). */
  chance?: ChanceLevels;
  /** Evaluations during training: one small chart per kind (retrieval, zero-shot, …) over the steps. */
  evals: EvalRecord[];
  /** The final model's evaluation (RUN/eval.json, or one run at report time), shown as a table. */
  finalEval?: FinalEval;
  /**
   * Similarities of one batch: `matrix` is n×n row-major, row i = image i, column j = text j, and the
   * matching pairs on the diagonal; `texts[i]` is pair i's caption.
   */
  similarity?: { matrix: Float32Array; n: number; texts: string[] };
  /**
   * Embeddings to map in 2-D: `points` is n×dim row-major, `labels[i]` colours point i; `what` names them
   * ("image embeddings", "backbone features").
   */
  embeddings?: { points: Float32Array; n: number; dim: number; labels: string[]; what?: string };
  /** A retrieval gallery: each query with its best images (PNG bytes), best first. */
  retrievals?: {
    /** text-to-image: caption queries, the matching images marked; image-to-image: same label marked. */
    kind: "text-to-image" | "image-to-image";
    /** Images each query was ranked against. */
    candidates: number;
    queries: Retrieval[];
  };
}

/**
 * Evaluation values by key (`image_to_text/R@1`, `zero_shot/top1`, `knn/top1`, …: fractions in [0, 1]) and
 * their chance levels where known.
 */
export interface EvalRecord {
  step: number;
  values: Record<string, number>;
  chance?: Record<string, number>;
}

export interface FinalEval {
  /** Where the numbers come from (`eval.json, step 412`, `evaluated now on test.jsonl`). */
  source: string;
  values: Record<string, number>;
  chance?: Record<string, number>;
  /** What was evaluated, in words (`120 images, 60 distinct captions`). */
  counts?: string;
  /** Why there are no values (e.g. an image encoder without labelled training images). */
  note?: string;
}

export interface Retrieval {
  /** The caption, or for an image query its name. */
  query: string;
  /** An image query's thumbnail. */
  queryPng?: Uint8Array;
  /**
   * The best results in rank order, each marked when it is a correct match; when the first match ranks
   * below them, it follows as one more result with its rank.
   */
  results: { score: number; rank?: number; match?: boolean; png: Uint8Array; caption?: string }[];
  /** Rank of the first correct image among the candidates (1 = best); undefined when none matches. */
  matchRank?: number;
}
