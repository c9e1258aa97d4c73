/**
 * `juxta/text`: the byte-level BPE tokenizer (CLIP style). Browser bundles can import it: the file loaders
 * (`loadTokenizer`, `saveTokenizerJson`, `readCaptions`) need Node and say so when called in a browser;
 * `parseTokenizerJson` and `tokenizerJson` do the same work on strings.
 */
export * from "../text/index.js";
