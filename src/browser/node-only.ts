/**
 * Stand-ins for Node's built-in modules in browser bundles. package.json's "browser" field maps `node:fs`,
 * `node:path`, … to the modules in this folder when a bundler (esbuild, webpack, Vite, Rollup) builds for
 * the browser, so that the in-memory parts of Juxta (VectorIndex, the tokenizer) bundle without Node. Each
 * stand-in throws one sentence naming what needs Node, instead of failing inside a missing module.
 */
import { UserError } from "../util/errors.js";

// biome-ignore lint/suspicious/noExplicitAny: a stand-in takes whatever the Node function took
type NodeOnly = (...args: any[]) => never;

export function nodeOnly(module: string, name: string): NodeOnly {
  return () => {
    throw new UserError(
      `${module} ${name}() is not available in a browser: reading and writing files needs Node.js. ` +
        "In a browser, build indexes in memory (VectorIndex.create, add, search) and tokenizers from " +
        "text (parseTokenizerJson).",
    );
  };
}
