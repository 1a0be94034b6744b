import type { Location } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { BuildDirsUnderKey } from '../fs/index.js';
import type { FieldValue } from './fields.js';
import type { DependencyRef } from './target.js';
import type { Project } from './project.js';

/**
 * A target no BUILD file declares: a backend infers it from the files of a
 * directory (a package.json's package and scripts), as Pants' synthetic
 * targets and Nx's inferred projects. Plain data, like a Target.
 */
export interface SyntheticTarget {
  /** A registered target type without `sources`/`source` fields and not a generator: the provider says its files itself. */
  readonly type: string;
  readonly name: string;
  /**
   * Set for a per-file target (a source file of a package): the file,
   * relative to `dir`. Its address is then `dir/file:name`, as a generated
   * target's, and `name` is the target it is generated from (which exists in
   * the same directory); it is not one of that target's dependencies.
   */
  readonly file?: string;
  /** Values of the type's own fields; fields left out take their defaults. */
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** What errors about the target point at (`packages/lib/package.json:5:5`); `file` is shown as its declaring file. */
  readonly location: { readonly file: string; readonly line: number; readonly col: number };
  /** Files it owns, root-relative, sorted. */
  readonly sources: readonly string[];
  /** Root-relative globs that decide who owned a deleted file (`--changed-since`). */
  readonly sourcePatterns: readonly string[];
  /** Dependencies it declares itself, resolved like a BUILD `dependencies` field (errors point at their locations). */
  readonly dependencyRefs?: readonly DependencyRef[];
}

/**
 * A target a BUILD file declares in a directory, as a provider sees it before
 * the merge: its fields (written or default) and which were written, each
 * with where, so a provider can let a BUILD target configure what it infers
 * and point its errors at the BUILD file.
 */
export interface BuildDeclaration {
  readonly type: string;
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** The fields the BUILD file wrote (not defaulted), in the order written. */
  readonly written: readonly string[];
  /** The target's call. */
  readonly location: Location;
  /** Where each written field's value is. */
  readonly fieldLocations: Readonly<Record<string, Location>>;
}

/**
 * What a backend contributes to have targets without BUILD files. Both
 * methods run inside engine computations and must read the world only
 * through `ctx` (file keys, run inputs), so the targets they declare are
 * re-validated like BUILD files' when what they read changes.
 */
export interface SyntheticTargetsProvider {
  readonly name: string;
  /** Directories at or under `dir` where this provider declares targets, for `dir::` and `::`. */
  dirsUnder(ctx: ComputeContext, project: Project, dir: string): Promise<readonly string[]>;
  /**
   * The targets this provider declares in `dir`, given what the BUILD files
   * of `dir` declare (empty when there are none). Called for every directory
   * whose targets are read; a provider with nothing there returns [].
   */
  targetsIn(ctx: ComputeContext, project: Project, dir: string, declared: readonly BuildDeclaration[]): Promise<readonly SyntheticTarget[]>;
}

/**
 * Every directory at or under `dir` that has targets: those with BUILD files
 * and those where a provider declares synthetic ones, unique. What `dir::`,
 * `::` and `dependents` walk (each sorts what it finds).
 */
export class TargetDirsUnderKey implements Key<readonly string[]> {
  readonly id: string;
  readonly #project: Project;
  readonly #dir: string;
  constructor(project: Project, dir: string) {
    this.#project = project;
    this.#dir = dir;
    this.id = `target-dirs-under:${dir}`;
  }
  describe(): string {
    return `directories with targets under ${this.#dir || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    const build = await ctx.get(new BuildDirsUnderKey(this.#project.ws, this.#dir));
    if (this.#project.synthetic.length === 0) return build;
    const all = new Set(build);
    for (const p of this.#project.synthetic) for (const d of await p.dirsUnder(ctx, this.#project, this.#dir)) all.add(d);
    return [...all].sort();
  }
}
