import { createHash } from 'node:crypto';
import type { RemoteConfig } from './remote-config.js';

/**
 * A string that changes whenever the remote configuration does (options and
 * the contents of the files they name), so an owner that keeps remote
 * layers between runs (the daemon's App) knows when to rebuild them.
 */
export function remoteConfigFingerprint(config: RemoteConfig | null): string {
  if (config === null) return 'remote:off';
  const h = createHash('sha256');
  h.update(
    // Buffers (certificates, keys) reach the replacer as { type: 'Buffer', data } via their toJSON.
    JSON.stringify(config, (_k, v: unknown) => {
      const b = v as { type?: unknown; data?: unknown } | null;
      if (typeof b === 'object' && b !== null && b.type === 'Buffer' && Array.isArray(b.data)) {
        return `sha256:${createHash('sha256').update(Buffer.from(b.data as number[])).digest('hex')}`;
      }
      return v;
    }),
  );
  return `remote:${h.digest('hex')}`;
}
