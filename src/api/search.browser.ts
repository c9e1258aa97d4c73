/**
 * `juxta/search` in a browser bundle: the exact vector index in memory (create, add, remove, search; the
 * async searches run the same JavaScript scan) and near-duplicate search. `save` and `load` need Node's
 * file system and say so when called; the LanceDB index and the store are Node-only and left out.
 */
export {
  DEFAULT_DEDUP_THRESHOLD,
  type DedupOptions,
  type DedupResult,
  type DuplicateGroup,
  type DuplicatePair,
  dedupCsv,
  dedupVectors,
  findDuplicates,
  groupPairs,
  type KeepRule,
  type NeighbourIndex,
  neighbourPairs,
} from "../search/dedup.js";
export { type Json, type Metric, type SearchHit, VectorIndex } from "../search/index.js";
