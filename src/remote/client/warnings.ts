import type { Logger } from '../../core/index.js';
import type { RemoteCacheWarnings } from './remote-config.js';

/**
 * Where remote warnings go to be shown to the user: one line of text, no
 * trailing newline, no `warning:` prefix (the UI adds its own). The CLI
 * passes a sink that prints through the run's console; by default
 * warnings only reach the log.
 */
export type WarningSink = (message: string) => void;

/** Rate-limits remote cache warnings per `remote_cache_warnings`; every one is logged whatever the mode. */
export interface CacheWarner {
  warn(message: string): void;
  /** Errors seen so far (shown or not). */
  readonly count: number;
}

/**
 * `ignore`: never shown; `first_only`: the first one; `backoff`: the 1st,
 * 2nd, 4th, 8th, … so a cache that is down for a whole build says so a
 * handful of times, not once per process; `always`: every one.
 */
export function createCacheWarner(mode: RemoteCacheWarnings, sink: WarningSink | undefined, logger: Logger): CacheWarner {
  let count = 0;
  return {
    get count() {
      return count;
    },
    warn(message: string): void {
      count++;
      logger.warn(`remote cache: ${message}`);
      if (sink === undefined || !shouldShow(mode, count)) return;
      const suffix =
        mode === 'backoff' && count > 1
          ? ` (remote cache error ${count} of this run; later ones are shown less and less often, see remote_cache_warnings)`
          : mode === 'first_only'
            ? ' (further remote cache errors are only logged; see remote_cache_warnings)'
            : '';
      safe(sink, `remote cache: ${message}${suffix}`, logger);
    },
  };
}

export function shouldShow(mode: RemoteCacheWarnings, nth: number): boolean {
  switch (mode) {
    case 'ignore':
      return false;
    case 'first_only':
      return nth === 1;
    case 'backoff':
      return (nth & (nth - 1)) === 0; // powers of two
    case 'always':
      return true;
  }
}

/** A sink that throws (a closed terminal) must not fail a build. */
export function safe(sink: WarningSink, message: string, logger: Logger): void {
  try {
    sink(message);
  } catch (e) {
    logger.warn(`warning sink threw: ${e instanceof Error ? e.message : String(e)}`);
  }
}
