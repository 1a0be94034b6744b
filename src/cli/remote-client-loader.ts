import { failure, FailureError } from '../core/index.js';
import { GLOBAL, type Options } from '../options/index.js';

/**
 * A run that uses no remote option must not pay for loading the remote
 * client. The runner loads it before any goal runs when an option turns
 * remote work on, and everything later reads it from here synchronously.
 * It loads no transport itself: the remote layers import the provider for
 * the address's scheme on first use (gRPC, ~60 ms, only for a REAPI server).
 */
type RemoteClient = typeof import('../remote/client/index.js');

let loaded: RemoteClient | undefined;

/**
 * Whether any option asks for remote caching or execution, or remote
 * environments may need the execution server (`remote_execution_server` set
 * and `[environments] names` naming any environment).
 */
export function remoteEnabled(options: Options): boolean {
  if (options.bool(GLOBAL, 'remote_execution') || options.bool(GLOBAL, 'remote_cache_read') || options.bool(GLOBAL, 'remote_cache_write')) return true;
  if (options.maybeString(GLOBAL, 'remote_execution_server') === null || options.registry.scope('environments') === undefined) return false;
  return Object.keys(options.dict('environments', 'names')).length > 0;
}

export async function loadRemoteClient(): Promise<RemoteClient> {
  loaded ??= await import('../remote/client/index.js');
  return loaded;
}

/** The remote client the runner loaded; asking before it did is a bug. */
export function remoteClient(): RemoteClient {
  if (loaded === undefined) throw new FailureError(failure('internal', 'remote-client-not-loaded', 'the remote client was used before the run loaded it'));
  return loaded;
}
