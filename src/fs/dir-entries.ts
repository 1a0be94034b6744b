import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { raise, failure } from '../core/index.js';
import type { Key } from '../engine/index.js';
import type { Workspace } from './workspace.js';

export type EntryKind = 'file' | 'dir' | 'other';

export interface DirEntry {
  readonly name: string;
  readonly kind: EntryKind;
}

/** A directory as the OS lists it (symlinks resolved to what they point at), sorted by name. */
export interface DirEntries {
  readonly exists: boolean;
  readonly entries: readonly DirEntry[];
}

const MISSING: DirEntries = { exists: false, entries: [] };

/** Raw listing of one directory: a file-system key, invalidated by the watcher. */
export class DirEntriesKey implements Key<DirEntries> {
  readonly id: string;
  readonly path: string;
  readonly #ws: Workspace;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.path = dir;
    this.id = `dir-entries:${dir}`;
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
      let kind: EntryKind = d.isFile() ? 'file' : d.isDirectory() ? 'dir' : 'other';
      if (d.isSymbolicLink()) {
        // A symlink counts as what it points at; a dangling one is invisible.
        try {
          const s = await stat(join(abs, d.name));
          kind = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
        } catch {
          continue;
        }
      }
      entries.push({ name: d.name, kind });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { exists: true, entries };
  }
}
