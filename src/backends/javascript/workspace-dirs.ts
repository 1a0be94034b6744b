import picomatch from 'picomatch';
import { joinRel } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { ListingKey, type LinkProblem, type Workspace } from '../../fs/index.js';

/** Installed packages are never workspace packages, nor part of one's files. */
export const NODE_MODULES = 'node_modules';

/**
 * Every directory at or under `dir` with a package.json, skipping
 * node_modules (as npm's and pnpm's workspace globbing does), sorted.
 * Recursive through the engine like BuildDirsUnderKey: a new package
 * directory recomputes one branch.
 */
export class ManifestDirsUnderKey implements Key<readonly string[]> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `manifest-dirs-under:${dir}`;
  }
  describe(): string {
    return `directories with a package.json under ${this.#dir || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    const listing = await ctx.get(new ListingKey(this.#ws, this.#dir));
    const subs = await ctx.getAll(listing.dirs.filter((d) => d !== NODE_MODULES).map((d) => new ManifestDirsUnderKey(this.#ws, joinRel(this.#dir, d))));
    const out: string[] = listing.files.includes('package.json') ? [this.#dir] : [];
    for (const s of subs) for (const d of s) out.push(d);
    return out.sort();
  }
}

/** A directory tree's files, and the symlinks in it that lead out of the build root. */
export interface TreeFiles {
  /** Root-relative, sorted. */
  readonly files: readonly string[];
  readonly escapes: readonly { readonly path: string; readonly problem: LinkProblem }[];
}

/**
 * Every file of a directory's tree, root-relative and sorted, as the
 * listing keys show it (ignore rules applied), without node_modules.
 */
export class FilesWithoutModulesKey implements Key<TreeFiles> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `files-without-modules:${dir}`;
  }
  describe(): string {
    return `files under ${this.#dir || '.'} outside node_modules`;
  }
  async compute(ctx: ComputeContext): Promise<TreeFiles> {
    const listing = await ctx.get(new ListingKey(this.#ws, this.#dir));
    const subs = await ctx.getAll(listing.dirs.filter((d) => d !== NODE_MODULES).map((d) => new FilesWithoutModulesKey(this.#ws, joinRel(this.#dir, d))));
    const files: string[] = listing.files.map((f) => joinRel(this.#dir, f));
    const escapes: { path: string; problem: LinkProblem }[] = listing.escapes.map((e) => ({ path: joinRel(this.#dir, e.name), problem: e.problem }));
    for (const s of subs) {
      for (const f of s.files) files.push(f);
      for (const e of s.escapes) escapes.push(e);
    }
    return { files: files.sort(), escapes };
  }
}

/**
 * The package directories workspace globs select (`packages/*`,
 * `apps/**`, `!**\/fixtures/**`): directories with a package.json that an
 * include glob matches and no `!` glob does, the build root excluded (it
 * is the root package). Patterns are already normalized (no `./`, no
 * trailing `/`); literal ones that name no package are the caller's to report.
 */
export class WorkspaceDirsKey implements Key<readonly string[]> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #patterns: readonly string[];
  constructor(ws: Workspace, patterns: readonly string[]) {
    this.#ws = ws;
    this.#patterns = patterns;
    this.id = `workspace-dirs:${JSON.stringify(patterns)}`;
  }
  describe(): string {
    return `workspace packages ${this.#patterns.join(' ')}`;
  }
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    const excludes = this.#patterns.filter((p) => p.startsWith('!')).map((p) => picomatch(p.slice(1), { dot: true }));
    const found = new Set<string>();
    for (const pattern of this.#patterns.filter((p) => !p.startsWith('!'))) {
      const scan = picomatch.scan(pattern);
      if (!scan.isGlob) {
        if ((await ctx.get(new ListingKey(this.#ws, pattern))).files.includes('package.json')) found.add(pattern);
        continue;
      }
      const m = picomatch(pattern, { dot: false });
      for (const d of await ctx.get(new ManifestDirsUnderKey(this.#ws, scan.base))) if (m(d)) found.add(d);
    }
    found.delete('');
    return [...found].filter((d) => !excludes.some((x) => x(d))).sort();
  }
}
