import type { Readable } from 'node:stream';
import { isAbortError, type Digest, type Logger } from '../../core/index.js';
import type { LocalStore, LocalStoreStats, MaterializeMode, MaterializeOptions } from '../../store/index.js';
import type { ActionResult } from '../../reapi/index.js';
import { describeError } from './describe-error.js';
import type { OutputFetcher } from './output-fetcher.js';
import type { ByteStoreProvider } from './provider.js';

/**
 * The local store, with blobs it lacks fetched from the remote store on
 * first use. With `cache_content_behavior` = `validate` or `defer`, remote
 * hits leave output contents on the server; a later local step that reads
 * them (a sandbox, `trews package`) gets them through here. Reads only:
 * `findMissing` and action cache lookups stay local, so local cache hits
 * keep needing local blobs. `remote` is asked for on the first fetch: the
 * provider is loaded on first use (see remote-layers.ts).
 */
export function createFetchingStore(local: LocalStore, remote: () => Promise<ByteStoreProvider>, logger: Logger): LocalStore {
  return new FetchingStore(local, remote, logger, undefined);
}

/**
 * The local store for `cache_content_behavior` = `fetch` with outputs
 * downloaded in the background (output-fetcher.ts): a read of an output
 * still on its way waits for it (sending its download at once), and fails
 * with its download's failure. Any other blob is the local store's alone,
 * as before: no remote lookups.
 */
export function createAwaitingStore(local: LocalStore, fetcher: OutputFetcher, logger: Logger): LocalStore {
  return new FetchingStore(local, undefined, logger, fetcher);
}

class FetchingStore implements LocalStore {
  readonly #local: LocalStore;
  readonly #remote: (() => Promise<ByteStoreProvider>) | undefined;
  readonly #log: Logger;
  readonly #fetcher: OutputFetcher | undefined;

  constructor(local: LocalStore, remote: (() => Promise<ByteStoreProvider>) | undefined, logger: Logger, fetcher: OutputFetcher | undefined) {
    this.#local = local;
    this.#remote = remote;
    this.#log = logger;
    this.#fetcher = fetcher;
  }

  get dir(): string {
    return this.#local.dir;
  }

  /** Downloads `d` into the local store; false when the remote lacks it too (or cannot be reached). */
  async #fetch(d: Digest, signal?: AbortSignal): Promise<boolean> {
    if (this.#fetcher?.owes(d) === true) {
      // An output of this run on its way (or whose download failed): its own failure, not a miss.
      await this.#fetcher.need(d, signal);
      return true;
    }
    if (this.#remote === undefined) return false;
    try {
      const remote = await this.#remote();
      const missing = await remote.findMissing([d], signal);
      if (missing.length > 0) return false;
      await remote.downloadTo(this.#local, [d], signal);
      return true;
    } catch (e) {
      if (isAbortError(e)) throw e;
      this.#log.warn(`remote store: cannot fetch a deferred blob: ${describeError(e)}`);
      return false;
    }
  }

  async #orFetch<T>(d: Digest, read: () => Promise<T | undefined>, signal?: AbortSignal): Promise<T | undefined> {
    const first = await read();
    if (first !== undefined) return first;
    return (await this.#fetch(d, signal)) ? read() : undefined;
  }

  findMissing(digests: readonly Digest[], signal?: AbortSignal): Promise<Digest[]> {
    return this.#local.findMissing(digests, signal);
  }

  get(digest: Digest, signal?: AbortSignal): Promise<Readable | undefined> {
    return this.#orFetch(digest, () => this.#local.get(digest, signal), signal);
  }

  getBytes(digest: Digest, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    return this.#orFetch(digest, () => this.#local.getBytes(digest, signal), signal);
  }

  put(digest: Digest, data: Readable | Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.#local.put(digest, data, signal);
  }

  putFile(path: string, signal?: AbortSignal): Promise<Digest> {
    return this.#local.putFile(path, signal);
  }

  materializeFile(digest: Digest, destPath: string, options: MaterializeOptions, signal?: AbortSignal): Promise<MaterializeMode | undefined> {
    return this.#orFetch(digest, () => this.#local.materializeFile(digest, destPath, options, signal), signal);
  }

  getActionResult(actionDigest: Digest, signal?: AbortSignal): Promise<ActionResult | undefined> {
    return this.#local.getActionResult(actionDigest, signal);
  }

  updateActionResult(actionDigest: Digest, result: ActionResult, signal?: AbortSignal): Promise<void> {
    return this.#local.updateActionResult(actionDigest, result, signal);
  }

  stats(): LocalStoreStats {
    return this.#local.stats();
  }

  forgetIdle(idlePeriods: number): number {
    return this.#local.forgetIdle(idlePeriods);
  }

  close(): Promise<void> {
    return this.#local.close();
  }
}
