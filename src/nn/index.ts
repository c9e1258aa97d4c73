/** Neural-network building blocks: modules with named, seeded parameters, and composite functions. */
export { causalMask, MultiheadAttention } from "./attention.js";
export { Conv2d } from "./conv.js";
export { Embedding } from "./embedding.js";
export * from "./functional.js";
export { Linear } from "./linear.js";
export { MLP } from "./mlp.js";
export { Buffer, bind, type Init, Module, Parameter, stateDict } from "./module.js";
export { BatchNorm2d, LayerNorm } from "./norm.js";
