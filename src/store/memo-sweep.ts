import type { BlobStore } from './blob-store.js';
import { flushIdleStaged } from './flush-staged.js';
import { endMemoPeriod, storeMemoSizes, type StoreMemoSizes } from './tree-io.js';

/** What one sweep of a store's memos did, and what they hold after it (entries, not bytes). */
export interface MemoSweep {
  /** Entries of the decoded-Directory, known-present and tree-result memos forgotten. */
  readonly forgotten: number;
  /** Staged trees and files written to the store (or dropped, when their file changed since) and no longer held. */
  readonly flushed: number;
  readonly sizes: StoreMemoSizes;
}

/**
 * Ends a daemon's run for a store's in-memory memos (tree-io.ts): what none
 * of the last `idleRuns` runs used is forgotten (staged trees are written
 * first: the graph may still name them). The memos' count bounds alone let
 * a long session of edits fill them, since each edit makes digests no later
 * run asks for; with this they hold what recent runs used. 0 ends the run
 * and forgets nothing. A forgotten entry costs a stat, a read or a merge if
 * it is needed again, never a wrong result.
 */
export async function sweepStoreMemos(store: BlobStore, idleRuns: number, signal?: AbortSignal): Promise<MemoSweep> {
  const flushed = await flushIdleStaged(store, idleRuns, signal);
  const forgotten = endMemoPeriod(store, idleRuns);
  return { forgotten, flushed, sizes: storeMemoSizes(store) };
}
