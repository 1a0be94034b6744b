import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import type { Logger } from '../core/index.js';

/** Idle time after a run before the heap is settled: the next run of a script or a benchmark loop usually comes sooner. */
const SETTLE_DELAY_MS = 1000;
/**
 * Growth of the old generation since the last settle worth a compacting
 * collection. (V8 does not say how much of it is live until it collects:
 * space "used" counts garbage not swept yet.) A fully memoized run allocates
 * little and stays under it; a run that computed much of the graph does not.
 */
const SETTLE_MIN_GROWTH_BYTES = 32 * 1024 * 1024;

export interface HeapSettler {
  /** Runs are in progress: a settle not started yet waits for the next idle moment. */
  busy(): void;
  /** No run is in progress: settles the heap after a short idle time if it holds much free space. */
  idle(): void;
  stop(): void;
}

export interface HeapSettlerOptions {
  readonly logger: Logger;
  /** For tests: the idle time before settling (default 1 s). */
  readonly delayMs?: number;
  /** For tests: the old generation's growth since the last settle worth settling (default 32 MiB). */
  readonly minGrowthBytes?: number;
}

interface OldSpace {
  readonly size: number;
  readonly used: number;
}

function oldSpace(): OldSpace {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === 'old_space');
  return { size: s?.space_size ?? 0, used: s?.space_used_size ?? 0 };
}

const mib = (n: number): string => (n / 2 ** 20).toFixed(0);

/**
 * Gives memory back after a run that grew the heap much: a full
 * collection, and when the pages it leaves are still far from full, a second
 * one that compacts every page (V8 compacts only the most fragmented ones
 * otherwise, so the pages a run scattered its garbage over stay mapped). It
 * runs when the daemon has been idle for a moment, so no run waits for it
 * unless one arrives during it (a few hundred ms at 1,000 packages). Needs `--expose-gc` (process-manager.ts DAEMON_NODE_FLAGS); without it, does nothing.
 */
export function createHeapSettler(o: HeapSettlerOptions): HeapSettler {
  const gc = (globalThis as { gc?: () => void }).gc;
  let timer: NodeJS.Timeout | undefined;
  let settledAt = oldSpace().size;
  const minGrowth = o.minGrowthBytes ?? SETTLE_MIN_GROWTH_BYTES;
  const settle = (): void => {
    timer = undefined;
    if (gc === undefined) return;
    const before = oldSpace();
    if (before.size - settledAt < minGrowth) return;
    const t0 = performance.now();
    // A plain full collection first: a run's garbage mostly fills whole pages, which it
    // gives back. Compacting every page costs several times as much (0.4-0.6 s at 100 MiB,
    // and a run that arrives meanwhile waits for it); it is worth it only when the pages
    // left are still much emptier than full.
    gc();
    let after = oldSpace();
    const compacted = after.size - after.used >= minGrowth / 2;
    if (compacted) {
      setFlagsFromString('--compact-on-every-full-gc');
      try {
        gc();
      } finally {
        setFlagsFromString('--no-compact-on-every-full-gc');
      }
      after = oldSpace();
    }
    settledAt = after.size;
    o.logger.info(
      `heap: settled the old generation from ${mib(before.size)} MiB (${mib(before.used)} used) to ${mib(after.size)} MiB (${mib(after.used)} used) in ${Math.round(performance.now() - t0)} ms${compacted ? ', compacting it' : ''}`,
    );
  };
  return {
    busy() {
      clearTimeout(timer);
      timer = undefined;
    },
    idle() {
      clearTimeout(timer);
      timer = setTimeout(settle, o.delayMs ?? SETTLE_DELAY_MS);
      timer.unref();
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
