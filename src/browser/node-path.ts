/** `node:path` in browser bundles: Juxta joins paths only to read or write files, which need Node. */
import { nodeOnly } from "./node-only.js";

const fn = (name: string) => nodeOnly("node:path", name);
export const basename = fn("basename");
export const dirname = fn("dirname");
export const extname = fn("extname");
export const isAbsolute = fn("isAbsolute");
export const join = fn("join");
export const relative = fn("relative");
export const resolve = fn("resolve");
export const sep = "/";
