import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { raise, failure } from '../core/index.js';
import type { Key } from '../engine/index.js';
import type { Workspace } from './workspace.js';

/** What an entry is, as `lstat` says: a symlink is a symlink, never what it points at. */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'device' | 'unknown';

export interface DirEntry {
  readonly name: string;
  readonly kind: EntryKind;
  /** A symlink's target as stored (relative to the link's directory, or absolute). */
  readonly target?: string;
}

/** A directory as the OS lists it, without following symlinks, sorted by name. */
export interface DirEntries {
  readonly exists: boolean;
  readonly entries: readonly DirEntry[];
}

const MISSING: DirEntries = { exists: false, entries: [] };

/**
 * Raw listing of one directory: a file-system key, invalidated by the watcher.
 *
 * `dir` must be a real path (no symlink in it; RealPathKey makes one): this
 * node is invalidated by changes at `dir`, and the watcher reports changes
 * where they happen, never under the name of a symlink that leads there.
 * Symlinks are recorded with their targets rather than followed, for the
 * same reason: what a link points at lives at another path, whose own nodes
 * are invalidated when it changes.
 */
export class DirEntriesKey implements Key<DirEntries> {
  readonly id: string;
  readonly path: string;
  readonly #ws: Workspace;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.path = dir;
    this.id = dirEntriesId(dir);
  }
  describe(): string {
    return `listing of ${this.path || '.'}`;
  }
  async compute(): Promise<DirEntries> {
    const abs = join(this.#ws.root, this.path);
    let dirents;
    try {
      dirents = await readdir(abs, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return MISSING;
      raise(failure('environment', 'fs-read', `cannot list directory ${this.path || '.'}: ${(e as Error).message}`));
    }
    const entries: DirEntry[] = [];
    for (const d of dirents) {
      if (!d.isSymbolicLink()) {
        entries.push({ name: d.name, kind: kindOf(d) });
        continue;
      }
      let target: string;
      try {
        target = await readlink(join(abs, d.name));
      } catch (e) {
        // Gone between the listing and now: its own event will list this directory again.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        raise(failure('environment', 'fs-read', `cannot read the symlink ${join(this.path, d.name)}: ${(e as Error).message}`));
      }
      entries.push({ name: d.name, kind: 'symlink', target });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { exists: true, entries };
  }
}

/** The id of the listing key of `dir` (root-relative): how a kept graph names it. */
export function dirEntriesId(dir: string): string {
  return `dir-entries:${dir}`;
}

/** The entry called `name`: a binary search, since directories can hold tens of thousands of entries. */
export function entryNamed(listing: DirEntries, name: string): DirEntry | undefined {
  const es = listing.entries;
  let lo = 0;
  let hi = es.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const n = es[mid]!.name;
    if (n === name) return es[mid];
    if (n < name) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

function kindOf(d: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): EntryKind {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  if (d.isBlockDevice() || d.isCharacterDevice()) return 'device';
  return 'unknown';
}
