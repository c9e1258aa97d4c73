/**
 * `juxta/search`: the exact persistent vector index, the LanceDB-backed one (optional peer
 * `@lancedb/lancedb`), the store that opens either, and near-duplicate search.
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
export { isLanceIndex, LanceIndex, type LanceSearchOptions } from "../search/lance.js";
export {
  createIndexStore,
  INDEX_BACKENDS,
  type IndexBackend,
  type IndexStore,
  isIndexDir,
  openIndexStore,
} from "../search/store.js";
