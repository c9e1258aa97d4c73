/** `juxta/nn`: neural-network modules with named, seeded parameters, and composite functions. */
export * from "../nn/index.js";
