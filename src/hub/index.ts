/** Hugging Face Hub names (`hf:org/name[@revision]`) resolved to folders through the standard HF cache. */
export { type HubEnv, hubEnv } from "./env.js";
export { HubUnreachable } from "./http.js";
export { type HubName, isHubName, parseHubName } from "./names.js";
export { type ResolveOptions, resolveModelSource } from "./resolve.js";
