/**
 * `juxta/data`: data sets (manifests, folders, WebDataset, CIFAR-10, MNIST), read whole or as streams (shards
 * member by member, a bounded seeded shuffle), the batch loader, the emoji set.
 */
export { buildEmojiDataset, type EmojiDatasetOptions, type EmojiDatasetStats } from "../data/emoji.js";
export { type ImageItem, isShardSet, listImages, streamImages } from "../data/image-set.js";
export { type Batch, Loader, type LoaderOptions } from "../data/loader.js";
export { openDataset, streamDataset } from "../data/open.js";
export { type DatasetFormat, type DatasetOptions, FORMATS } from "../data/options.js";
export { type ShuffleOptions, shardOrder, shuffleStream } from "../data/shuffle.js";
export { readTar, streamTar, type TarMember } from "../data/tar.js";
export { type ImageRef, type Sample, SkipLog } from "../data/types.js";
export { expandBraces, readWebDataset, streamWebDataset } from "../data/webdataset.js";
