import type { Logger } from '../../core/index.js';
import type { LocalStore } from '../../store/index.js';
import type { UploadedTrees } from './ensure-uploaded.js';
import type { OutputFetcher } from './output-fetcher.js';
import type { RemoteProvider } from './provider.js';
import { protocolOf } from './address.js';
import type { RemoteConfig } from './remote-config.js';
import type { WarningSink } from './warnings.js';

/** What a provider is built with, besides the configuration. */
export interface ProviderDeps {
  /** The local store remote results land in (the layers' store: deferred blobs are fetched through it). */
  readonly local: LocalStore;
  readonly logger: Logger;
  readonly warnings?: WarningSink;
  /** Trees known uploaded during the run, shared by cache writes and remote execution. */
  readonly uploaded: UploadedTrees;
  /** Where remote execution leaves output downloads for later (`fetch`; see output-fetcher.ts). */
  readonly fetcher?: OutputFetcher;
}

/**
 * The provider for the store server's scheme (as Pants' choose_*_provider):
 * `grpc://`, `grpcs://` and `host:port` speak REAPI, `http://` and
 * `https://` the HTTP cache protocol. Each provider's module is imported
 * here and only here, so a run loads only the transport it uses: gRPC
 * costs ~60 ms to load, and an HTTP cache does not need it.
 */
export async function loadProvider(config: RemoteConfig, deps: ProviderDeps): Promise<RemoteProvider> {
  switch (protocolOf(config.store.address)) {
    case 'reapi':
      return (await import('./reapi-provider.js')).createReapiProvider(config, deps);
    case 'http':
      return (await import('./http-provider.js')).createHttpProvider(config, deps);
  }
}
