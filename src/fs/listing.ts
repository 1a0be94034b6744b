import { dirnameRel, joinRel, raise } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { DirEntriesKey, type EntryKind } from './dir-entries.js';
import { IgnoreRulesKey, isIgnored } from './ignore-rules.js';
import { linkFailure } from './link-failure.js';
import { RealPathKey, realPathOf, type LinkProblem, type RealPath } from './real-path.js';
import { ALWAYS_IGNORED_DIRS, type Workspace } from './workspace.js';

/** A visible entry that is neither a file nor a directory to walk, and what it is (for messages). */
export interface OtherEntry {
  readonly name: string;
  /** `a symlink to a directory`, `a FIFO`, `a socket`, `a device`, `a symlink to nothing`, `a symlink loop`. */
  readonly what: string;
}

/** A visible symlink that leads out of the build root (or loops): reading through it is an error. */
export interface EscapingEntry {
  readonly name: string;
  readonly problem: LinkProblem;
}

/**
 * What trews can see in a directory (ignore rules applied), each list sorted.
 *
 * Symlinks count as what they resolve to inside the build root, with one
 * exception that keeps every walk finite and free of duplicates: a symlink to
 * a directory is not in `dirs`, so walks (`**`, BUILD discovery, `dir::`)
 * never descend through it. A path that names it explicitly still goes
 * through it (see README.md).
 */
export interface Listing {
  readonly exists: boolean;
  /** Regular files, and symlinks to regular files inside the build root. */
  readonly files: readonly string[];
  /** Real directories: what walks descend into. */
  readonly dirs: readonly string[];
  readonly others: readonly OtherEntry[];
  readonly escapes: readonly EscapingEntry[];
}

const MISSING: Listing = { exists: false, files: [], dirs: [], others: [], escapes: [] };

const WHAT: Readonly<Record<Exclude<EntryKind, 'file' | 'dir' | 'symlink'>, string>> = {
  fifo: 'a FIFO',
  socket: 'a socket',
  device: 'a device',
  unknown: 'neither a file nor a directory',
};

/**
 * The visible entries of a directory. `dir` may go through symlinks: the
 * listing is that of its real directory (and it is invalidated by changes
 * there). A `dir` that leads out of the build root or loops is a failure.
 */
export class ListingKey implements Key<Listing> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `listing:${dir}`;
  }
  describe(): string {
    return `visible files of ${this.#dir || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<Listing> {
    const real = await realPathOf(ctx, this.#ws, this.#dir);
    if (real.type === 'outside' || real.type === 'loop') raise(linkFailure(real));
    if (real.type === 'missing' || real.kind !== 'dir') return MISSING;
    if (real.path !== this.#dir) {
      // Names are relative, so the real directory's listing is this one's.
      return insideAlwaysIgnored(real.path) ? MISSING : ctx.get(new ListingKey(this.#ws, real.path));
    }
    const raw = await ctx.get(new DirEntriesKey(this.#ws, this.#dir));
    if (!raw.exists) return MISSING;
    const rules = await ctx.get(new IgnoreRulesKey(this.#ws, this.#dir));
    const links = raw.entries.filter((e) => e.kind === 'symlink');
    const resolved = await ctx.getAll(links.map((e) => new RealPathKey(this.#ws, joinRel(this.#dir, e.name))));
    const linkTo = new Map(links.map((e, i) => [e.name, resolved[i]!]));
    const files: string[] = [];
    const dirs: string[] = [];
    const others: OtherEntry[] = [];
    const escapes: EscapingEntry[] = [];
    for (const e of raw.entries) {
      const path = joinRel(this.#dir, e.name);
      if (e.kind === 'dir') {
        if (!ALWAYS_IGNORED_DIRS.has(e.name) && !isIgnored(rules, path, true)) dirs.push(e.name);
        continue;
      }
      if (isIgnored(rules, path, false)) continue;
      if (e.kind === 'file') files.push(e.name);
      else if (e.kind !== 'symlink') others.push({ name: e.name, what: WHAT[e.kind] });
      else {
        const to = linkTo.get(e.name)!;
        if (to.type === 'outside') {
          escapes.push({ name: e.name, problem: to });
          continue;
        }
        const seen = await classifyLink(ctx, this.#ws, to);
        if (seen === 'file') files.push(e.name);
        else if (seen !== 'hidden') others.push({ name: e.name, what: seen.what });
      }
    }
    return { exists: true, files, dirs, others, escapes };
  }
}

function insideAlwaysIgnored(path: string): boolean {
  return path.split('/').some((p) => ALWAYS_IGNORED_DIRS.has(p));
}

/**
 * How a symlink in a listing is seen. A link to a file counts as that file,
 * unless the file is hidden by the ignore rules where it really is: the
 * watcher does not watch ignored places, so a daemon could not keep it fresh.
 */
async function classifyLink(ctx: ComputeContext, ws: Workspace, to: Exclude<RealPath, { type: 'outside' }>): Promise<'file' | 'hidden' | { what: string }> {
  if (to.type === 'loop') return { what: 'a symlink loop' };
  if (to.type === 'missing') return { what: 'a symlink to nothing' };
  if (to.kind === 'dir') return { what: 'a symlink to a directory' };
  if (to.kind !== 'file') return { what: `a symlink to ${WHAT[to.kind]}` };
  if (insideAlwaysIgnored(to.path)) return 'hidden';
  const rules = await ctx.get(new IgnoreRulesKey(ws, dirnameRel(to.path)));
  return isIgnored(rules, to.path, false) ? 'hidden' : 'file';
}

/** Every visible file under a directory, recursively, as paths from the root; and the escaping symlinks met. */
export interface FilesUnder {
  /** Sorted. */
  readonly files: readonly string[];
  /** Symlinks under the directory that lead out of the build root, by path. */
  readonly escapes: readonly { readonly path: string; readonly problem: LinkProblem }[];
}

/**
 * Every visible file under a directory, recursively. Descends only into real
 * directories (see Listing), so a symlink to `.` or to `/` costs nothing and
 * nothing is found twice. `dir` itself may go through a symlink: the paths
 * are then under `dir` as written.
 */
export class FilesUnderKey implements Key<FilesUnder> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `files-under:${dir}`;
  }
  describe(): string {
    return `files under ${this.#dir || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<FilesUnder> {
    const listing = await ctx.get(new ListingKey(this.#ws, this.#dir));
    const subs = await ctx.getAll(listing.dirs.map((d) => new FilesUnderKey(this.#ws, joinRel(this.#dir, d))));
    const files: string[] = listing.files.map((f) => joinRel(this.#dir, f));
    const escapes: { path: string; problem: LinkProblem }[] = listing.escapes.map((e) => ({ path: joinRel(this.#dir, e.name), problem: e.problem }));
    for (const s of subs) {
      for (const f of s.files) files.push(f);
      for (const e of s.escapes) escapes.push(e);
    }
    return { files: files.sort(), escapes };
  }
}
