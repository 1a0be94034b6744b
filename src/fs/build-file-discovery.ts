import picomatch from 'picomatch';
import { failure, joinRel, raise } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { linkFailure } from './link-failure.js';
import { ListingKey } from './listing.js';
import type { Workspace } from './workspace.js';

const compiled = new WeakMap<readonly string[], (name: string) => boolean>();

/**
 * A name is a BUILD file when it matches a pattern and no `!` pattern: the
 * default `BUILD`, `BUILD.*`, `!BUILD.bazel`, `!BUILD.bzl` leaves Bazel's
 * files to Bazel in a repository that has both. (picomatch given a list
 * ORs it, so a `!` entry there would match everything else instead.)
 */
export function buildFileMatcher(patterns: readonly string[]): (name: string) => boolean {
  let m = compiled.get(patterns);
  if (!m) {
    const include = patterns.filter((p) => !p.startsWith('!'));
    const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
    const yes = include.length === 0 ? () => false : picomatch(include, { dot: true });
    const no = exclude.length === 0 ? () => false : picomatch(exclude, { dot: true });
    m = (name) => yes(name) && !no(name);
    compiled.set(patterns, m);
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
  /**
   * A name that matches the BUILD patterns but is not a file (a directory, a
   * FIFO, a device, a symlink to nothing or out of the root) is an error:
   * skipping it would silently drop the targets someone meant to declare, and
   * reading a FIFO would never end.
   */
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    const listing = await ctx.get(new ListingKey(this.#ws, this.#dir));
    const isBuild = buildFileMatcher(this.#ws.rules.buildPatterns);
    const notAFile = (name: string, what: string): never =>
      raise(
        failure('input', 'build-file-not-a-file', `this is ${what}, not a file, but its name makes it a BUILD file`, {
          location: { file: joinRel(this.#dir, name) },
          hints: ['rename or remove it, or change `build_patterns` so that it does not match'],
        }),
      );
    for (const d of listing.dirs) if (isBuild(d)) notAFile(d, 'a directory');
    for (const o of listing.others) if (isBuild(o.name)) notAFile(o.name, o.what);
    for (const e of listing.escapes) if (isBuild(e.name)) raise(linkFailure(e.problem, { location: { file: joinRel(this.#dir, e.name) } }));
    return listing.files.filter((f) => isBuild(f)).map((f) => joinRel(this.#dir, f));
  }
}

/**
 * Every directory at or under `dir` that holds a BUILD file, sorted. Recursive
 * through the engine, so adding a BUILD file deep in the tree recomputes one
 * branch and cuts off at every unchanged level. Descends only into real
 * directories, so the symlinks of an npm workspace (`node_modules/pkg ->
 * ../packages/pkg`) do not make a second copy of every target, and a link to
 * `.` or `/` costs nothing.
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
