import picomatch from 'picomatch';
import { joinRel } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { ListingKey } from './listing.js';
import type { Workspace } from './workspace.js';

const compiled = new WeakMap<readonly string[], (name: string) => boolean>();

function buildFileMatcher(ws: Workspace): (name: string) => boolean {
  let m = compiled.get(ws.rules.buildPatterns);
  if (!m) {
    m = picomatch(ws.rules.buildPatterns as string[], { dot: true });
    compiled.set(ws.rules.buildPatterns, m);
  }
  return m;
}

/** Root-relative paths of the BUILD files directly in a directory, sorted. */
export class BuildFilesInDirKey implements Key<readonly string[]> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `build-files:${dir}`;
  }
  describe(): string {
    return `BUILD files in ${this.#dir || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    const listing = await ctx.get(new ListingKey(this.#ws, this.#dir));
    const isBuild = buildFileMatcher(this.#ws);
    return listing.files.filter((f) => isBuild(f)).map((f) => joinRel(this.#dir, f));
  }
}

/**
 * Every directory at or under `dir` that holds a BUILD file, sorted. Recursive
 * through the engine, so adding a BUILD file deep in the tree recomputes one
 * branch and cuts off at every unchanged level.
 */
export class BuildDirsUnderKey implements Key<readonly string[]> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `build-dirs-under:${dir}`;
  }
  describe(): string {
    return `directories with BUILD files under ${this.#dir || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    const [listing, buildFiles] = await Promise.all([
      ctx.get(new ListingKey(this.#ws, this.#dir)),
      ctx.get(new BuildFilesInDirKey(this.#ws, this.#dir)),
    ]);
    const subs = await ctx.getAll(listing.dirs.map((d) => new BuildDirsUnderKey(this.#ws, joinRel(this.#dir, d))));
    const out: string[] = buildFiles.length > 0 ? [this.#dir] : [];
    for (const s of subs) for (const d of s) out.push(d);
    return out;
  }
}
