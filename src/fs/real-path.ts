import { dirnameRel, basenameRel, joinRel } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { DirEntriesKey, entryNamed, type EntryKind } from './dir-entries.js';
import type { Workspace } from './workspace.js';

/** As Linux's MAXSYMLINKS: a path needing more symlinks than this is a loop. */
export const MAX_SYMLINK_HOPS = 40;

/** Why a path cannot be read: a symlink on the way leads out of the build root, or round in a loop. */
export type LinkProblem =
  | {
      readonly type: 'outside';
      /** Root-relative path of the symlink that leads out (as reached: a link inside the root may lead to it). */
      readonly link: string;
      /** Its target, as stored. */
      readonly target: string;
    }
  | { readonly type: 'loop'; readonly link: string };

/** Where a root-relative path really is, inside the build root, with no symlink left in it. */
export type RealPath =
  | {
      readonly type: 'found';
      /** Root-relative; equal to the path asked for unless a symlink was followed. */
      readonly path: string;
      /** What is there; never `symlink`. */
      readonly kind: Exclude<EntryKind, 'symlink'>;
    }
  | { readonly type: 'missing' }
  | LinkProblem;

const ROOT: RealPath = { type: 'found', path: '', kind: 'dir' };
const MISSING: RealPath = { type: 'missing' };

/**
 * Resolves a root-relative path to its real path, following symlinks the way
 * the kernel does (each `..` from where the previous step really is), but
 * only through the engine: every directory it looks into is a DirEntriesKey
 * at a real path. So the answer is invalidated by a change to any link on
 * the way (its directory's listing changes) and by a change at the real
 * location (the watcher reports that path), which is what keeps a daemon
 * right about files read through symlinks.
 *
 * A symlink whose target is outside the build root (absolute elsewhere, or
 * `..` past the root) is reported, not followed: trews reads nothing outside
 * the root. A chain of more than MAX_SYMLINK_HOPS links is a loop.
 *
 * The parent is resolved by its own key, so siblings share that work; the
 * link chain itself is followed inside this computation, so two links that
 * point at each other cannot make two nodes wait for each other.
 */
export class RealPathKey implements Key<RealPath> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #ws: Workspace;
  readonly #path: string;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.#path = path;
    this.id = `real-path:${path}`;
  }
  describe(): string {
    return `real path of ${this.#path || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<RealPath> {
    if (this.#path === '') return ROOT;
    const parent = await ctx.get(new RealPathKey(this.#ws, dirnameRel(this.#path)));
    if (parent.type !== 'found') return parent;
    if (parent.kind !== 'dir') return MISSING;
    return follow(ctx, this.#ws, parent.path, [basenameRel(this.#path)], this.#path);
  }
}

/**
 * The real path of `path`, as RealPathKey computes it, read from the caller's
 * computation: for a path whose last component is not a symlink (nearly
 * every file) this costs no node of its own, only edges to the parent's
 * real path and listing, which siblings share. Keys that exist once per
 * file (digests, texts) use it, so a snapshot of 100,000 files does not add
 * 100,000 nodes to the graph.
 */
export async function realPathOf(ctx: ComputeContext, ws: Workspace, path: string): Promise<RealPath> {
  if (path === '') return ROOT;
  const parent = await ctx.get(new RealPathKey(ws, dirnameRel(path)));
  if (parent.type !== 'found') return parent;
  if (parent.kind !== 'dir') return MISSING;
  const entry = entryNamed(await ctx.get(new DirEntriesKey(ws, parent.path)), basenameRel(path));
  if (entry === undefined) return MISSING;
  if (entry.kind !== 'symlink') return { type: 'found', path: joinRel(parent.path, entry.name), kind: entry.kind };
  return ctx.get(new RealPathKey(ws, path));
}

/**
 * Walks `pending` components from the real directory `start`. `asked` is the
 * path as the caller wrote it: the first symlink met is `asked` itself (the
 * parent was resolved already), and messages name it as written.
 */
async function follow(ctx: ComputeContext, ws: Workspace, start: string, pending: string[], asked: string): Promise<RealPath> {
  const at = start === '' ? [] : start.split('/');
  let kind: Exclude<EntryKind, 'symlink'> = 'dir';
  let hops = 0;
  /** The last link followed, which is to blame for a `..` that climbs out of the root. */
  let last: { link: string; target: string } | undefined;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '' || name === '.') continue;
    if (kind !== 'dir') return MISSING;
    if (name === '..') {
      // `at` is real, so `..` goes where the kernel would take it. Asked paths
      // are normalized: only a link's target can climb past the root.
      if (at.length === 0) return last === undefined ? MISSING : { type: 'outside', ...last };
      at.pop();
      continue;
    }
    const dir = at.join('/');
    const listing = await ctx.get(new DirEntriesKey(ws, dir));
    const entry = entryNamed(listing, name);
    if (entry === undefined) return MISSING;
    if (entry.kind !== 'symlink') {
      at.push(name);
      kind = entry.kind;
      continue;
    }
    const link = hops === 0 ? asked : joinRel(dir, name);
    if (++hops > MAX_SYMLINK_HOPS) return { type: 'loop', link };
    const target = entry.target ?? '';
    last = { link, target };
    if (target.startsWith('/')) {
      const root = ws.root.length > 1 && ws.root.endsWith('/') ? ws.root.slice(0, -1) : ws.root;
      if (target !== root && !target.startsWith(`${root}/`)) return { type: 'outside', link, target };
      at.length = 0;
      pending.unshift(...target.slice(root.length).split('/'));
    } else {
      pending.unshift(...target.split('/'));
    }
  }
  return { type: 'found', path: at.join('/'), kind };
}
