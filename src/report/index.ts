/** The training report: data in, one self-contained HTML file out. */
export { renderReport } from "./html.js";
export { type Pca2d, pca2d } from "./pca.js";
export type { RefLine } from "./svg.js";
export { collapseWarning, ema } from "./training.js";
export { TSNE_MAX_POINTS, type TsneOptions, tsne2d } from "./tsne.js";
export type { ChanceLevels, EvalRecord, FinalEval, ReportData, Retrieval, TrainingStep } from "./types.js";
