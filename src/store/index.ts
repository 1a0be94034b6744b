export { symlinkEscapes } from './symlink-escape.js';
export type { BlobStore, ActionCache } from './blob-store.js';
export {
  createLocalStore,
  type LocalStore,
  type LocalStoreOptions,
  type LocalStoreStats,
  type LinkedSource,
  type MaterializeMode,
  type MaterializeOptions,
} from './local-store.js';
export { collectGarbage, storeSize, type GcOptions, type GcResult, type StoreLocation, type StoreSize } from './gc.js';
export { defaultLocalStoreDir } from './default-dir.js';
export { SnapshotKey, type Snapshot } from './snapshot.js';
export { EMPTY_TREE_DIGEST } from './tree-io.js';
export { flushAllStaged, flushTree } from './flush-staged.js';
export { isStaged, readForUpload, storeIfStaged } from './staged-read.js';
export { sweepStoreMemos, type MemoSweep } from './memo-sweep.js';
export type { StoreMemoSizes } from './tree-io.js';
export { readDirectory } from './tree-io.js';
export {
  mergeTrees,
  addPrefix,
  stripPrefix,
  subsetTree,
  listTree,
  treeFromFiles,
  treeFromBytes,
  treeDirAt,
  removeFromTree,
  type TreeEntry,
  type TreeFile,
  type TreeSymlink,
  type FileSpec,
  type BytesFileSpec,
} from './tree-ops.js';
export { treeMessageOf } from './tree-message.js';
export { materializeTree, type MaterializeTreeOptions, type MaterializedTree, type SharedTreeLink } from './materialize-tree.js';
export { sharedTreesFor, type SharedTrees, type SharedTreeUse } from './shared-trees.js';
export { LinkFarms, type FarmUse } from './link-farms.js';
export { checkLinkedInputs, type LinkedInput, type ModifiedInput } from './input-check.js';
export { damageCount, damageOf, type DamageKind } from './damage.js';
export { beginStoreUse, type StoreUse } from './leases.js';
export { storeGenerationFile, storeLostEntries, storeStateOf, type StoreState } from './store-state.js';
export { captureDirectory, captureOutputs, type CaptureOptions, type CapturedOutputs } from './capture.js';
export { outputRootOf } from './output-root.js';
export { TreeListingKey } from './tree-listing.js';
export { casPath } from './store-layout.js';
