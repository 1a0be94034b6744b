import type { Digest } from '../core/index.js';
import { BoundedCache } from './bounded-cache.js';

/**
 * What this process has found wrong with blobs of a store directory:
 * - `corrupt`: the file did not match its name (bit rot, a crash without
 *   fsync, something writing into the store) and was deleted;
 * - `modified`: a sandboxed process changed it through its hard-linked
 *   input, and it was deleted;
 * - `missing`: a tree or result this process held named a blob the store no
 *   longer had (evicted by a GC, or one of the above earlier).
 *
 * Any of them means the process's memos (a daemon's graph, the remembered
 * presence of tree-io.ts) may name blobs that are gone: `damageCount` lets
 * the daemon notice and start its next run from a fresh graph, which
 * re-reads the workspace and re-stores what is missing. The kind of a recent
 * event lets a `missing-blob` error say why the blob is gone.
 *
 * Per process and per directory (not per store object): every object on a
 * directory sees the same files, and the remote layers wrap the local store.
 */
export type DamageKind = 'corrupt' | 'modified' | 'missing';

interface DirDamage {
  count: number;
  readonly recent: BoundedCache<string, DamageKind>;
}

/** Recent kinds remembered per directory: enough to explain the errors of one run. */
const RECENT_MAX = 10_000;
const byDir = new Map<string, DirDamage>();

function of(dir: string): DirDamage {
  let d = byDir.get(dir);
  if (d === undefined) {
    d = { count: 0, recent: new BoundedCache(RECENT_MAX) };
    byDir.set(dir, d);
  }
  return d;
}

export function noteDamage(dir: string, digest: Pick<Digest, 'hash'>, kind: DamageKind): void {
  const d = of(dir);
  d.count++;
  // A `missing` report must not hide why the blob went missing.
  if (kind !== 'missing' || !d.recent.has(digest.hash)) d.recent.set(digest.hash, kind);
}

/** How many damage events this process saw in `dir`; grows only. */
export function damageCount(dir: string): number {
  return byDir.get(dir)?.count ?? 0;
}

/** Why this process last found the blob missing or damaged, if it did. */
export function damageOf(dir: string, digest: Pick<Digest, 'hash'>): DamageKind | undefined {
  return byDir.get(dir)?.recent.get(digest.hash);
}
