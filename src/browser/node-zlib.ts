/** `node:zlib` in browser bundles: Juxta gunzips only files it reads, which needs Node. */
import { nodeOnly } from "./node-only.js";

export const gunzipSync = nodeOnly("node:zlib", "gunzipSync");
