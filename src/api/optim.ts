/** `juxta/optim`: optimizers, learning-rate schedules, gradient clipping and parameter EMA. */
export * from "../optim/index.js";
