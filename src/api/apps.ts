/** `juxta/apps`: what the CLI commands do, as functions (embed, index and search, classify, evaluate, report). */
export * from "../apps/index.js";
