/** `juxta/losses`: the contrastive and metric-learning losses, one module each. */
export * from "../losses/index.js";
