import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, unlinkSync, utimesSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestString, pidExists, type Digest, type Logger } from '../core/index.js';
import type { LocalStore } from './local-store.js';
import { materializeTree } from './materialize-tree.js';
import { readDirectory } from './tree-io.js';
import { nodeDigest } from './tree-nodes.js';
import { joinTreePath } from './tree-paths.js';

/**
 * One read-only materialization per tree digest, shared by every sandbox
 * that needs the tree (a 50,000-file node_modules): sandboxes link its
 * directories (materializeTree's `shared`) instead of making its files,
 * so preparing a sandbox costs a few hundred symlinks, not 50,000 links.
 *
 *   <store>/shared/<hash>-<size>/           the tree (dirs 0555, files 0444/0555)
 *   <store>/shared/<hash>-<size>/.trews-barrier   ours, for the watch's barrier
 *   <store>/shared/<hash>-<size>.users/<pid>-<rnd>  a trews process using it
 *   <store>/shared/tmp-<rnd>/                being made, renamed into place
 *
 * Files are private copies (reflinks where the file system has them), not
 * hard links into the CAS: a write through any other name of a CAS blob
 * (a sandbox's hard-linked input) would otherwise change the shared file
 * without any event on the shared directories.
 *
 * Protection against writes: modes stop a careless tool that runs as
 * another user than root; root and a deliberate `chmod u+w` are detected.
 * Every directory of the tree is watched (inotify, through fs.watch) from
 * the moment a trews process first uses it; any event in it marks the
 * tree modified. A process that ran on a modified tree fails like one
 * that wrote its hard-linked inputs (`input-modified`), and the tree is
 * removed, to be made again from the CAS by the next process that needs
 * it. After a process ends, a barrier (a touch of `.trews-barrier`, and
 * waiting for its event: inotify delivers events in order) makes sure
 * every event the process caused has been seen.
 *
 * Between trews processes nothing watches. A trews process records its use
 * (`.users/`) and removes the record when it exits; a record left by a
 * process that died (it may have died between a write and its check) makes
 * the next user re-make the tree. Writes by programs that trews did not
 * start are out of scope, as they are for the CAS.
 */

const BARRIER = '.trews-barrier';
const BARRIER_WAIT_MS = 5000;
const SHARED_DIR = 'shared';

export interface SharedTreeUse {
  /** The materialization (absolute). */
  readonly dir: string;
  /** Call before the process starts; pass the result to `modifiedSince`. */
  begin(): number;
  /**
   * After the process (and everything it started) has ended: whether the
   * tree was modified since `begin`. When it was, the tree is discarded.
   */
  modifiedSince(token: number, signal?: AbortSignal): Promise<boolean>;
}

class Watched {
  readonly dir: string;
  readonly digest: Digest;
  #watchers: FSWatcher[] = [];
  #events = 0;
  #barrierEvents = 0;
  #barrierWaiters: Array<{ after: number; resolve: () => void }> = [];
  #barrierChain: Promise<unknown> = Promise.resolve();
  discarded = false;

  constructor(dir: string, digest: Digest) {
    this.dir = dir;
    this.digest = digest;
  }

  /** Watches every directory; false when the watch cannot be set up (inotify limits). */
  watch(dirs: readonly string[], logger: Logger): boolean {
    try {
      for (const rel of dirs) {
        const abs = rel === '' ? this.dir : join(this.dir, rel);
        const w = watch(abs, { persistent: false }, (_event, name) => {
          if (rel === '' && name === BARRIER) {
            this.#barrierEvents++;
            const ready = this.#barrierWaiters.filter((x) => this.#barrierEvents > x.after);
            this.#barrierWaiters = this.#barrierWaiters.filter((x) => this.#barrierEvents <= x.after);
            for (const r of ready) r.resolve();
            return;
          }
          this.#events++;
        });
        w.on('error', () => this.#events++);
        this.#watchers.push(w);
      }
      return true;
    } catch (e) {
      logger.warn(`shared trees: cannot watch ${this.dir} (${(e as Error).message}); sandboxes will link its files one by one`);
      this.close();
      return false;
    }
  }

  get events(): number {
    return this.#events;
  }

  /** Resolves once every event caused before the call has been delivered. */
  barrier(): Promise<boolean> {
    const run = this.#barrierChain.then(
      () =>
        new Promise<boolean>((resolve) => {
          const after = this.#barrierEvents;
          const timer = setTimeout(() => resolve(false), BARRIER_WAIT_MS);
          this.#barrierWaiters.push({
            after,
            resolve: () => {
              clearTimeout(timer);
              resolve(true);
            },
          });
          try {
            const now = new Date();
            utimesSync(join(this.dir, BARRIER), now, now);
          } catch {
            clearTimeout(timer);
            resolve(false);
          }
        }),
    );
    this.#barrierChain = run;
    return run;
  }

  close(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }
}

/** The shared trees of one store directory, for this process. */
export class SharedTrees {
  readonly #root: string;
  readonly #store: LocalStore;
  readonly #logger: Logger;
  readonly #trees = new Map<string, Promise<Watched | undefined>>();

  constructor(store: LocalStore, logger: Logger) {
    this.#store = store;
    this.#root = join(store.dir, SHARED_DIR);
    this.#logger = logger;
  }

  /**
   * The tree's shared materialization, made if need be, watched from now
   * on; undefined when it cannot be watched (the caller materializes the
   * tree the ordinary way).
   */
  async acquire(digest: Digest, signal?: AbortSignal): Promise<SharedTreeUse | undefined> {
    const key = digestString(digest);
    let p = this.#trees.get(key);
    if (p === undefined) {
      p = this.#open(digest, signal);
      this.#trees.set(key, p);
      p.catch(() => this.#trees.delete(key));
    }
    const w = await p;
    if (w === undefined) {
      this.#trees.delete(key);
      return undefined;
    }
    return {
      dir: w.dir,
      begin: () => w.events,
      modifiedSince: async (token) => {
        const delivered = await w.barrier();
        if (w.events === token && delivered && !w.discarded) return false;
        this.#discard(key, w);
        return true;
      },
    };
  }

  #discard(key: string, w: Watched): void {
    if (w.discarded) return;
    w.discarded = true;
    w.close();
    if (this.#trees.get(key) !== undefined) this.#trees.delete(key);
    this.#logger.warn(`shared trees: ${w.dir} was modified; it is removed and will be made again from the store`);
    removeTree(w.dir, this.#root);
  }

  async #open(digest: Digest, signal?: AbortSignal): Promise<Watched | undefined> {
    const name = `${digest.hash}-${digest.sizeBytes}`;
    const dir = join(this.#root, name);
    const users = `${dir}.users`;
    mkdirSync(users, { recursive: true });
    // A user that died may have died between a process's write and its check.
    if (exists(dir) && deadUsers(users).length > 0) {
      this.#logger.info(`shared trees: a trews process that used ${dir} died; making it again`);
      removeTree(dir, this.#root);
    }
    for (const dead of deadUsers(users)) rmSync(join(users, dead), { force: true });
    const lease = join(users, `${process.pid}-${randomBytes(4).toString('hex')}`);
    writeFileSync(lease, '');
    addLease(lease);
    const dirs = await treeDirs(this.#store, digest, signal);
    if (!exists(dir)) await this.#make(digest, dir, dirs, signal);
    const w = new Watched(dir, digest);
    if (!w.watch(dirs, this.#logger)) return undefined;
    return w;
  }

  async #make(digest: Digest, dir: string, dirs: readonly string[], signal?: AbortSignal): Promise<void> {
    const tmp = join(this.#root, `tmp-${randomBytes(6).toString('hex')}`);
    try {
      await materializeTree(this.#store, digest, tmp, { mode: 'copy', ...(signal ? { signal } : {}) });
      writeFileSync(join(tmp, BARRIER), '');
      readOnly(tmp, dirs);
      try {
        renameSync(tmp, dir);
      } catch (e) {
        // Another process made it first: theirs is as good.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        removeTree(tmp, this.#root);
      }
    } catch (e) {
      removeTree(tmp, this.#root);
      throw e;
    }
  }
}

function exists(p: string): boolean {
  return lstatSync(p, { throwIfNoEntry: false }) !== undefined;
}

function deadUsers(users: string): string[] {
  let names: string[];
  try {
    names = readdirSync(users);
  } catch {
    return [];
  }
  return names.filter((n) => {
    const pid = Number(n.split('-')[0]);
    return !pidExists(pid);
  });
}

/** Every directory of the tree, root first (''). */
async function treeDirs(store: LocalStore, digest: Digest, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  let level: Array<{ digest: Digest; at: string }> = [{ digest, at: '' }];
  while (level.length > 0) {
    const next: typeof level = [];
    const dirs = await Promise.all(level.map((l) => readDirectory(store, l.digest, 'shared tree', signal)));
    dirs.forEach((d, i) => {
      out.push(level[i]!.at);
      for (const c of d.directories) next.push({ digest: nodeDigest(c.digest, c.name), at: joinTreePath(level[i]!.at, c.name) });
    });
    level = next;
  }
  return out;
}

/** Files 0444 (0555 when executable), directories 0555; the top stays writable for the barrier file. */
function readOnly(root: string, dirs: readonly string[]): void {
  for (const rel of [...dirs].reverse()) {
    const abs = rel === '' ? root : join(root, rel);
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      if (!e.isFile() || (rel === '' && e.name === BARRIER)) continue;
      const p = join(abs, e.name);
      chmodSync(p, (lstatSync(p).mode & 0o111) !== 0 ? 0o555 : 0o444);
    }
    if (rel !== '') chmodSync(abs, 0o555);
  }
}

/** Renames the tree out of the way at once (so nobody links it again) and removes it in the background. */
function removeTree(dir: string, root: string): void {
  const trash = join(root, `trash-${randomBytes(6).toString('hex')}`);
  try {
    renameSync(dir, trash);
  } catch {
    return;
  }
  const writable = (p: string): void => {
    try {
      chmodSync(p, 0o755);
      for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) writable(join(p, e.name));
    } catch {
      // best effort; rm reports what is left
    }
  };
  writable(trash);
  void rm(trash, { recursive: true, force: true }).catch(() => undefined);
}

const leases = new Set<string>();
let exitHook = false;

/** This process uses a tree until it exits: the record goes then (a synchronous 'exit' hook). */
function addLease(path: string): void {
  leases.add(path);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const l of leases) {
      try {
        unlinkSync(l);
      } catch {
        // gone already
      }
    }
  });
}

const byStore = new WeakMap<LocalStore, SharedTrees>();

/** The SharedTrees of a store in this process (one per store object: a daemon replaces its store after a GC). */
export function sharedTreesFor(store: LocalStore, logger: Logger): SharedTrees {
  let s = byStore.get(store);
  if (s === undefined) byStore.set(store, (s = new SharedTrees(store, logger)));
  return s;
}
