/**
 * `juxta/data`: data sets (manifests, folders, WebDataset, CIFAR-10, MNIST), read whole or as streams (shards
 * member by member, JSONL manifests line by line, a bounded seeded shuffle), the batch loaders (the pixel
 * cache's and the streamed one), the emoji set.
 */
export { buildEmojiDataset, type EmojiDatasetOptions, type EmojiDatasetStats } from "../data/emoji.js";
export { type ImageItem, isShardSet, listImages, streamImages } from "../data/image-set.js";
export { type Batch, Loader, type LoaderOptions, type TrainingLoader } from "../data/loader.js";
export { readManifest, streamManifest } from "../data/manifest.js";
export { openDataset, streamDataset } from "../data/open.js";
export { type DatasetFormat, type DatasetOptions, FORMATS } from "../data/options.js";
export { type ShuffleOptions, shardOrder, shuffleStream } from "../data/shuffle.js";
export { type EpochStream, StreamLoader, type StreamLoaderOptions } from "../data/stream-loader.js";
export { readTar, streamTar, type TarMember } from "../data/tar.js";
export { type ImageRef, type Sample, SkipLog } from "../data/types.js";
export { expandBraces, readWebDataset, streamWebDataset } from "../data/webdataset.js";
