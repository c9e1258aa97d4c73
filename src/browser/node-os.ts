/** `node:os` in browser bundles: every function says it needs Node (see node-only.ts). */
import { nodeOnly } from "./node-only.js";

const fn = (name: string) => nodeOnly("node:os", name);
export const cpus = fn("cpus");
export const endianness = fn("endianness");
export const tmpdir = fn("tmpdir");
