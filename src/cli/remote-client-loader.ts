import { failure, FailureError } from '../core/index.js';
import { GLOBAL, type Options } from '../options/index.js';

/**
 * The remote client (gRPC and its channels) costs ~60 ms to load; a run that
 * uses no remote option must not pay for it. The runner loads it before any
 * goal runs when an option turns remote work on, and everything later reads it
 * from here synchronously.
 */
type RemoteClient = typeof import('../remote/client/index.js');

let loaded: RemoteClient | undefined;

/** Whether any option asks for remote caching or execution. */
export function remoteEnabled(options: Options): boolean {
  return options.bool(GLOBAL, 'remote_execution') || options.bool(GLOBAL, 'remote_cache_read') || options.bool(GLOBAL, 'remote_cache_write');
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
