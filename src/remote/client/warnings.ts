import type { Logger } from '../../core/index.js';
import type { RemoteCacheWarnings } from './remote-config.js';

/**
 * Where remote warnings go to be shown to the user: one line of text, no
 * trailing newline, no `warning:` prefix (the UI adds its own). The CLI
 * passes a sink that prints through the run's console; by default
 * warnings only reach the log.
 */
export type WarningSink = (message: string) => void;

/**
 * The run a warning belongs to: its count and its sink. An ExecContext is
 * one, so a warning raised while serving a request goes to the run that
 * made it, never to another client of the same daemon.
 */
export interface WarningTarget {
  readonly runId: string;
  /** Where this run shows warnings; absent: the log only. */
  readonly warn?: WarningSink;
}

/** Rate-limits remote cache warnings per `remote_cache_warnings` and per run; every one is logged whatever the mode. */
export interface CacheWarner {
  /** `to` absent: a warning of no run in particular, shown on `fallback` (see createCacheWarner). */
  warn(message: string, to?: WarningTarget): void;
  /** Errors seen so far, in every run (shown or not). */
  readonly count: number;
}

/** Runs whose counts are kept: a daemon serves many runs, one after another. */
const MAX_RUNS = 64;

/**
 * `ignore`: never shown; `first_only`: the first one; `backoff`: the 1st,
 * 2nd, 4th, 8th, … so a cache that is down for a whole build says so a
 * handful of times, not once per process; `always`: every one.
 */
export function createCacheWarner(mode: RemoteCacheWarnings, fallback: WarningSink | undefined, logger: Logger): CacheWarner {
  let count = 0;
  const perRun = new Map<string, number>();
  return {
    get count() {
      return count;
    },
    warn(message: string, to?: WarningTarget): void {
      count++;
      logger.warn(`remote cache: ${message}`);
      const key = to?.runId ?? '';
      const nth = (perRun.get(key) ?? 0) + 1;
      perRun.delete(key);
      perRun.set(key, nth);
      if (perRun.size > MAX_RUNS) perRun.delete(perRun.keys().next().value!);
      const sink = to === undefined ? fallback : to.warn;
      if (sink === undefined || !shouldShow(mode, nth)) return;
      const suffix =
        mode === 'backoff' && nth > 1
          ? ` (remote cache error ${nth} of this run; later ones are shown less and less often, see remote_cache_warnings)`
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
