/** Tokenizers: Juxta's byte-level BPE (CLIP style: encoding, file formats, training) and SigLIP's Unigram. */
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
  type TextTokenizer,
  type TokenizerConfig,
  tokenizerConfigBeside,
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
export { siglipCanonicalize, UnigramTokenizer } from "./unigram.js";
