/** `juxta/hub`: Hugging Face Hub names (`hf:org/name[@revision]`) resolved to folders in the standard HF cache. */
export * from "../hub/index.js";
