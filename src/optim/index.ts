/** Optimizers, learning-rate schedules, gradient clipping and parameter EMA. */
export { AdamW, type AdamWOptions } from "./adamw.js";
export { clipScale, globalNorm } from "./clip.js";
export { emaUpdate } from "./ema.js";
export type { Optimizer, OptimizerState } from "./optimizer.js";
export { warmupCosine } from "./schedule.js";
export { SGD } from "./sgd.js";
