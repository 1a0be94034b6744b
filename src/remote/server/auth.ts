import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { Code } from '../../reapi/index.js';
import { RpcError } from './rpc-error.js';

/** Checks the `authorization` header of a call; undefined means the call may proceed. */
export interface Authenticator {
  check(metadata: Metadata): RpcError | undefined;
}

/**
 * Bearer tokens, as the clients send them (`authorization: Bearer <token>`:
 * Bazel's --remote_header / credential helpers, Pants' and trews'
 * remote_oauth_bearer_token_path). Tokens are compared as SHA-256 digests in
 * constant time, so neither their content nor their length leaks through
 * response timing.
 */
export function createBearerAuthenticator(tokens: readonly string[]): Authenticator {
  const accepted = tokens.map((t) => createHash('sha256').update(t, 'utf8').digest());
  return {
    check(metadata: Metadata): RpcError | undefined {
      const values = metadata.get('authorization').filter((v): v is string => typeof v === 'string');
      if (values.length === 0) {
        return new RpcError(
          Code.UNAUTHENTICATED,
          'this server requires a bearer token: send the header `authorization: Bearer <token>` (the server was started with --token-file)',
        );
      }
      for (const v of values) {
        const m = /^bearer\s+(.+)$/i.exec(v.trim());
        if (m === null) continue;
        const given = createHash('sha256').update(m[1]!, 'utf8').digest();
        // Check every token without stopping early, so timing does not say which one matched.
        let ok = false;
        for (const a of accepted) ok = timingSafeEqual(a, given) || ok;
        if (ok) return undefined;
        return new RpcError(Code.UNAUTHENTICATED, 'the bearer token in the `authorization` header is not accepted by this server');
      }
      return new RpcError(Code.UNAUTHENTICATED, 'the `authorization` header must have the form `Bearer <token>`');
    },
  };
}
