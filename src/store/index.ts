export type { BlobStore, ActionCache } from './blob-store.js';
export {
  createLocalStore,
  type LocalStore,
  type LocalStoreOptions,
  type LocalStoreStats,
  type MaterializeMode,
  type MaterializeOptions,
} from './local-store.js';
export { collectGarbage, storeSize, type GcOptions, type GcResult, type StoreLocation, type StoreSize } from './gc.js';
export { defaultLocalStoreDir } from './default-dir.js';
export { blobStoreContract, type BlobStoreFixture, type BlobStoreContractOptions } from './blob-store-contract.js';
