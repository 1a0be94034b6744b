import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, renameSync, rmSync, symlinkSync, watch, type FSWatcher } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestEquals, digestString, type Digest } from '../core/index.js';
import type { LinkedInput } from './input-check.js';
import type { LinkedSource, LocalStore } from './local-store.js';
import { missingBlob } from './tree-failures.js';
import { readDirectory } from './tree-io.js';
import { nodeDigest } from './tree-nodes.js';

/**
 * Ready-made real `node_modules` directories, moved into sandboxes whole.
 *
 * A sandbox's node_modules must be a real directory (the workspace links
 * go in it, tools add `.cache` and `.vite` to it), and its packages are
 * symlinks into the shared read-only copy (shared-trees.ts). Making those
 * symlinks per sandbox costs O(packages): 625 symlinks took 0.5–1 s on a
 * loaded 2-core VM (symlink(2) is a journalled metadata write). A farm is
 * that directory made once — every entry of the shared tree's directory a
 * symlink into the shared copy, its `@scope` and `.bin` subdirectories
 * real likewise, its files hard links into the CAS — and renamed into a
 * sandbox (one rename), given the sandbox's own entries (the workspace
 * links it needs), and after the process stripped of what was added and
 * renamed back into the pool. Preparing a sandbox thus costs O(links the
 * sandbox needs).
 *
 * A process owns its sandbox, farm included, and may change it: every real
 * directory of a farm is watched (inotify, one watch each, set up when the
 * farm is made). Any event on an entry of the farm's own (a symlink
 * replaced, a file written or chmod-ed) marks it dirty, and a dirty farm
 * is never reused: it is removed with the sandbox. Entries the process
 * added (`.cache`) are removed before the farm goes back. The shared
 * tree's barrier (same inotify descriptor, so events arrive in order) is
 * what makes sure every event of the process has arrived before the
 * release looks at them. Writes through the farm's symlinks land in the
 * shared copy and are caught there; writes to its hard-linked files by
 * checkLinkedInputs too (the farm's files are the process's linked inputs).
 */

export type FarmEntry =
  | { readonly kind: 'dir'; readonly digest: Digest }
  | { readonly kind: 'file'; readonly digest: Digest; readonly isExecutable: boolean }
  | { readonly kind: 'symlink'; readonly target: string };

export interface Farm {
  /** Where the farm is while unused (absolute). */
  readonly dir: string;
  /** Real directories of the farm, relative to it ('' is itself) → their entries. */
  readonly entries: ReadonlyMap<string, ReadonlyMap<string, FarmEntry>>;
  /** The farm's hard-linked files, relative to the farm. */
  readonly linked: readonly LinkedInput[];
}

/** A farm moved into a sandbox; `release` once the process and the shared tree's barrier are done. */
export interface FarmUse {
  readonly at: string;
  /** Takes the farm back (or drops it, left in the sandbox, when it cannot be reused). */
  release(): Promise<void>;
  /** The farm stays where it is (a kept sandbox). */
  abandon(): void;
}

const FARM_PREFIX = '.trews-farm-';

class FarmImpl implements Farm {
  readonly dir: string;
  readonly entries: Map<string, Map<string, FarmEntry>>;
  readonly linked: LinkedInput[];
  readonly #watchers: FSWatcher[] = [];
  /** Names added beside the farm's own entries since it was last cleaned, per real directory. */
  readonly added = new Map<string, Set<string>>();
  dirty = false;
  ino = 0;
  mode = 0;

  constructor(dir: string, entries: Map<string, Map<string, FarmEntry>>, linked: LinkedInput[]) {
    this.dir = dir;
    this.entries = entries;
    this.linked = linked;
  }

  watch(): boolean {
    try {
      for (const [rel, own] of this.entries) {
        const self = rel === '' ? undefined : rel.slice(rel.lastIndexOf('/') + 1);
        const w = watch(rel === '' ? this.dir : join(this.dir, rel), { persistent: false }, (_event, name) => {
          if (name === null) {
            this.dirty = true;
            return;
          }
          const n = name.toString();
          // The farm's own renames (into and out of sandboxes) report its directory's name.
          if (rel === '' && n.startsWith(FARM_PREFIX)) return;
          if (n === self) return; // the parent's watch reports the same change, by a name of its own
          if (own.has(n)) this.dirty = true;
          else {
            let s = this.added.get(rel);
            if (s === undefined) this.added.set(rel, (s = new Set()));
            s.add(n);
          }
        });
        w.on('error', () => {
          this.dirty = true;
        });
        this.#watchers.push(w);
      }
      const st = lstatSync(this.dir);
      this.ino = st.ino;
      this.mode = st.mode;
      return true;
    } catch {
      this.close();
      return false;
    }
  }

  close(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers.length = 0;
    this.dirty = true;
  }
}

/** The farms of one sandbox root (same file system as the sandboxes: farms move by rename). */
export class LinkFarms {
  readonly #store: LocalStore;
  readonly #poolDir: () => Promise<string>;
  readonly #idle = new Map<string, FarmImpl[]>();

  /** `poolDir`: where unused farms wait; made on first use, beside the sandboxes. */
  constructor(store: LocalStore, poolDir: () => Promise<string>) {
    this.#store = store;
    this.#poolDir = poolDir;
  }

  /**
   * A farm of the shared tree `tree` (materialized at `sharedDir`) at the
   * real directory `at`: an idle one, or one made now. Undefined when the
   * tree has no directory there or the farm cannot be watched.
   */
  async take(tree: Digest, sharedDir: string, at: string, signal?: AbortSignal): Promise<Farm | undefined> {
    const key = `${digestString(tree)}\0${sharedDir}\0${at}`;
    const idle = this.#idle.get(key) ?? [];
    for (let f = idle.pop(); f !== undefined; f = idle.pop()) {
      if (!f.dirty) return f;
      f.close();
      void rm(f.dir, { recursive: true, force: true }).catch(() => undefined);
    }
    const farm = await this.#make(tree, sharedDir, at, signal);
    if (farm === undefined) return undefined;
    return farm;
  }

  /** An unused farm goes back to the pool. */
  putBack(farm: Farm, tree: Digest, sharedDir: string, at: string): void {
    this.#park(farm as FarmImpl, `${digestString(tree)}\0${sharedDir}\0${at}`);
  }

  #park(f: FarmImpl, key: string): void {
    let idle = this.#idle.get(key);
    if (idle === undefined) this.#idle.set(key, (idle = []));
    idle.push(f);
  }

  /** Moves the farm to `dest` (a path in a sandbox whose parent exists). */
  use(farm: Farm, dest: string, at: string, tree: Digest, sharedDir: string, additions: readonly string[]): FarmUse {
    const f = farm as FarmImpl;
    renameSync(f.dir, dest);
    const key = `${digestString(tree)}\0${sharedDir}\0${at}`;
    let done = false;
    return {
      at,
      abandon: () => {
        done = true;
        f.close();
      },
      release: async () => {
        if (done) return;
        done = true;
        try {
          const st = lstatSync(dest, { throwIfNoEntry: false });
          // Replaced, moved or chmod-ed by the process, or an entry of its own touched: not reusable.
          if (f.dirty || st === undefined || !st.isDirectory() || st.ino !== f.ino || st.mode !== f.mode) {
            f.close();
            return;
          }
          // Ours by name (their events may not have arrived), then what the process added (its events have: the barrier).
          for (const a of additions) await rm(join(dest, a), { recursive: true, force: true });
          for (const [rel, names] of f.added) {
            for (const n of names) await rm(join(dest, rel, n), { recursive: true, force: true });
          }
          f.added.clear();
          renameSync(dest, f.dir);
          this.#park(f, key);
        } catch {
          // Something the process left cannot be removed (a read-only .cache): the sandbox's removal deals with it.
          f.close();
        }
      },
    };
  }

  async #make(tree: Digest, sharedDir: string, at: string, signal?: AbortSignal): Promise<FarmImpl | undefined> {
    // The directory at `at` in the shared tree.
    let digest = tree;
    for (const part of at.split('/')) {
      const d = await readDirectory(this.#store, digest, 'shared tree', signal);
      const node = d.directories.find((x) => x.name === part);
      if (node === undefined) return undefined;
      digest = nodeDigest(node.digest, node.name);
    }
    const pool = await this.#poolDir();
    const dir = join(pool, `${FARM_PREFIX}${randomBytes(6).toString('hex')}`);
    const entries = new Map<string, Map<string, FarmEntry>>();
    const linked: LinkedInput[] = [];
    try {
      const fill = async (rel: string, d: Digest, realChildren: boolean): Promise<void> => {
        const directory = await readDirectory(this.#store, d, 'shared tree', signal);
        const own = new Map<string, FarmEntry>();
        entries.set(rel, own);
        const abs = rel === '' ? dir : join(dir, rel);
        mkdirSync(abs);
        for (const c of directory.directories) {
          const cd = nodeDigest(c.digest, c.name);
          own.set(c.name, { kind: 'dir', digest: cd });
          const childRel = rel === '' ? c.name : `${rel}/${c.name}`;
          if (realChildren && (c.name.startsWith('@') || c.name === '.bin')) await fill(childRel, cd, false);
          else symlinkSync(join(sharedDir, at, childRel), join(dir, childRel));
        }
        for (const s of directory.symlinks) {
          own.set(s.name, { kind: 'symlink', target: s.target });
          symlinkSync(s.target, join(abs, s.name));
        }
        for (const file of directory.files) {
          const fd = nodeDigest(file.digest, file.name);
          own.set(file.name, { kind: 'file', digest: fd, isExecutable: file.isExecutable });
          const path = rel === '' ? file.name : `${rel}/${file.name}`;
          let source: LinkedSource | undefined;
          const how = await this.#store.materializeFile(
            fd,
            join(dir, path),
            { executable: file.isExecutable, mode: 'hardlink', onLinked: (s) => (source = s) },
            signal,
          );
          if (how === undefined) throw missingBlob(`file \`${at}/${path}\``, fd, this.#store);
          if (source !== undefined) linked.push({ path, digest: fd, source });
        }
      };
      await fill('', digest, true);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const farm = new FarmImpl(dir, entries, linked);
    if (!farm.watch()) {
      rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
    return farm;
  }
}

/** Whether a plan's entry is the farm's own entry of that name. */
export function sameAsFarm(entry: FarmEntry, other: FarmEntry): boolean {
  if (entry.kind !== other.kind) return false;
  if (entry.kind === 'dir' && other.kind === 'dir') return digestEquals(entry.digest, other.digest);
  if (entry.kind === 'file' && other.kind === 'file') return digestEquals(entry.digest, other.digest) && entry.isExecutable === other.isExecutable;
  return entry.kind === 'symlink' && other.kind === 'symlink' && entry.target === other.target;
}
