import { joinRel } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { DirEntriesKey } from './dir-entries.js';
import { IgnoreRulesKey, isIgnored } from './ignore-rules.js';
import { ALWAYS_IGNORED_DIRS, type Workspace } from './workspace.js';

/** The files and subdirectories of a directory that trews can see (ignore rules applied), sorted. */
export interface Listing {
  readonly exists: boolean;
  readonly files: readonly string[];
  readonly dirs: readonly string[];
}

export class ListingKey implements Key<Listing> {
  readonly id: string;
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
    const raw = await ctx.get(new DirEntriesKey(this.#ws, this.#dir));
    if (!raw.exists) return { exists: false, files: [], dirs: [] };
    const rules = await ctx.get(new IgnoreRulesKey(this.#ws, this.#dir));
    const files: string[] = [];
    const dirs: string[] = [];
    for (const e of raw.entries) {
      if (e.kind === 'other') continue;
      const isDir = e.kind === 'dir';
      if (isDir && ALWAYS_IGNORED_DIRS.has(e.name)) continue;
      if (isIgnored(rules, joinRel(this.#dir, e.name), isDir)) continue;
      (isDir ? dirs : files).push(e.name);
    }
    return { exists: true, files, dirs };
  }
}

/** Every visible file under a directory, recursively, as root-relative paths, sorted. */
export class FilesUnderKey implements Key<readonly string[]> {
  readonly id: string;
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
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    const listing = await ctx.get(new ListingKey(this.#ws, this.#dir));
    const subs = await ctx.getAll(listing.dirs.map((d) => new FilesUnderKey(this.#ws, joinRel(this.#dir, d))));
    const out: string[] = listing.files.map((f) => joinRel(this.#dir, f));
    for (const s of subs) for (const f of s) out.push(f);
    return out.sort();
  }
}
