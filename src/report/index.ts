/** The training report: data in, one self-contained HTML file out. */
export { renderReport } from "./html.js";
export { type Pca2d, pca2d } from "./pca.js";
export type { ReportData } from "./types.js";
