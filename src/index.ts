/**
 * Juxta's public API: one import for the layers a TypeScript user builds on. Each line is one subpath's
 * barrel (`juxta/train`, `juxta/models`, …), so the root and the subpaths cannot disagree; the engine, nn and
 * optim layers are namespaces here (`engine.compile`, `nn.Linear`, `optim.AdamW`) as their names are generic.
 */
export * from "./api/apps.js";
export * from "./api/data.js";
export * from "./api/distributed.js";
export * from "./api/eval.js";
export * from "./api/export.js";
export * from "./api/hub.js";
export * from "./api/losses.js";
export * from "./api/models.js";
export * from "./api/pipelines.js";
export * from "./api/search.js";
export * from "./api/text.js";
export * from "./api/train.js";
export * as engine from "./engine/index.js";
export * from "./moderate/index.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export { UserError } from "./util/errors.js";
