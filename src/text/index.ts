/** Juxta's byte-level BPE tokenizer (CLIP style): encoding, file formats, training. */
export { readCaptions } from "./captions.js";
export { clipClean, htmlUnescape } from "./clean.js";
export {
  CLIP_MERGES,
  clipVocab,
  loadClipBpe,
  loadTokenizer,
  loadTokenizerJson,
  loadVocabMerges,
  parseTokenizerJson,
  saveTokenizerJson,
  tokenizerJson,
} from "./formats.js";
export {
  END_TOKEN,
  type SpecOrigin,
  START_TOKEN,
  Tokenizer,
  type TokenizerSpec,
  WORD_END,
} from "./tokenizer.js";
export { type BpeTrainOptions, trainBpe } from "./train.js";
