/** `juxta/data`: data sets (manifests, folders, WebDataset, CIFAR-10, MNIST), the batch loader, the emoji set. */
export { buildEmojiDataset, type EmojiDatasetOptions, type EmojiDatasetStats } from "../data/emoji.js";
export { type Batch, Loader, type LoaderOptions } from "../data/loader.js";
export { openDataset } from "../data/open.js";
export { type DatasetFormat, type DatasetOptions, FORMATS } from "../data/options.js";
export { type ImageRef, type Sample, SkipLog } from "../data/types.js";
