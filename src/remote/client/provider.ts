import type { Digest } from '../../core/index.js';
import type { CommandRunner } from '../../exec/index.js';
import type { ActionCache, BlobStore } from '../../store/index.js';
import type { ActionResult, Directory } from '../../reapi/index.js';
import type { CallContext } from './request-metadata.js';

/** Counts of one bulk transfer. */
export interface TransferStats {
  readonly blobs: number;
  readonly bytes: number;
}

/**
 * A remote CAS, whatever protocol reaches it (Pants' ByteStoreProvider):
 * REAPI over gRPC (`reapi-provider.ts`) or the HTTP cache protocol
 * (`http-provider.ts`). It is a BlobStore (passes blobStoreContract), and
 * the remote layers move blobs only through the bulk calls below, always
 * between it and the local store, so a blob streams between disk and
 * network and is verified against its digest before it is trusted.
 */
export interface ByteStoreProvider extends BlobStore {
  /** How messages name the server: `remote_store_server grpc://127.0.0.1:8980`. */
  readonly description: string;
  /** BlobStore.findMissing (Pants' list_missing_digests), with RequestMetadata where the protocol carries it. */
  findMissing(digests: readonly Digest[], signal?: AbortSignal, call?: CallContext): Promise<Digest[]>;
  /** Uploads whichever of `digests` the server lacks, reading them from `local` (store_bytes / store_file). */
  uploadFrom(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext): Promise<TransferStats>;
  /**
   * Copies into `local` whichever of `digests` it lacks (load), each
   * verified: a blob the server lacks is a `remote-missing-blob` failure,
   * bytes that do not match their digest a `remote-corrupt-blob` one.
   */
  downloadTo(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext): Promise<TransferStats>;
  /**
   * Every Directory below (and including) `root` in one call, when the
   * protocol has one (REAPI's GetTree); undefined when the root is absent.
   * Without it, callers fetch the Directories level by level.
   */
  getTree?(root: Digest, signal?: AbortSignal, call?: CallContext): Promise<Directory[] | undefined>;
}

/** A remote action cache (Pants' ActionCacheProvider). A miss is undefined; errors are for failures. */
export interface ActionCacheProvider extends ActionCache {
  readonly description: string;
  /**
   * Whether a hit guarantees that the blobs it names are in the CAS. REAPI
   * servers should check before answering (trews' own does); an HTTP cache
   * does not, and evicts blobs and entries independently, so a hit's
   * outputs must be checked before they are relied on later.
   */
  readonly hitsHaveOutputs: boolean;
  getActionResult(actionDigest: Digest, signal?: AbortSignal, call?: CallContext): Promise<ActionResult | undefined>;
  updateActionResult(actionDigest: Digest, result: ActionResult, signal?: AbortSignal, call?: CallContext): Promise<void>;
}

/** The store server as a cache, once it has been found usable. */
export interface CacheAccess {
  readonly cas: ByteStoreProvider;
  readonly actionCache: ActionCacheProvider;
  /** False when the server takes no action cache updates (REAPI's update_enabled): results are then not written. */
  readonly updateEnabled: boolean;
}

/**
 * What one protocol brings to the remote layers (remote-layers.ts), chosen
 * by the scheme of `remote_store_server` (load-provider.ts).
 */
export interface RemoteProvider {
  /** `reapi` (grpc://, grpcs://, host:port) or `http` (http://, https://). */
  readonly protocol: 'reapi' | 'http';
  readonly cas: ByteStoreProvider;
  readonly actionCache: ActionCacheProvider;
  /**
   * The store server as a cache, asked once (REAPI: GetCapabilities; HTTP:
   * one request that proves it answers and accepts our credentials). In a
   * cache-only setup a failure is remembered until `endRun()`, so a server
   * that is down costs one round of retries per run, not one per process.
   */
  cache(): Promise<CacheAccess>;
  /** Remote execution, when it is on (REAPI only: validation refuses it for other protocols). */
  readonly execution?: CommandRunner;
  /** Asks every server it uses whether it can serve what the options ask of it; rejects when one cannot. */
  check(signal?: AbortSignal): Promise<void>;
  /** The end of a run: what was learnt about the servers during it may be stale by the next one. */
  endRun(): void;
  /** Requests made so far, by method (`ContentAddressableStorage.FindMissingBlobs`, `HEAD /cas`). */
  requestCounts(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}
