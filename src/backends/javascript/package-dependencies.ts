import semver from 'semver';
import { closest, failure, joinRel, raise, toRelPath } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import type { Workspace } from '../../fs/index.js';
import { PackageJsonKey, type DeclaredDependency, type DependencyField } from './package-json.js';
import { JsWorkspaceKey, type JsPackage } from './workspace.js';

/** A dependency on another package of the workspace. */
export interface FirstPartyDependency {
  readonly name: string;
  readonly dir: string;
  readonly range: string;
  readonly field: DependencyField;
}

/** A dependency the package manager fetches from a registry (or elsewhere outside the workspace). */
export interface ThirdPartyDependency {
  readonly name: string;
  readonly range: string;
  readonly field: DependencyField;
}

/** A package's dependencies, split: first-party sorted by directory (one entry per package), third-party in file order. */
export interface PackageDependencies {
  readonly firstParty: readonly FirstPartyDependency[];
  readonly thirdParty: readonly ThirdPartyDependency[];
}

/**
 * Which of a package's dependencies name workspace packages, as the package
 * managers link them: `workspace:` ranges always (an error when no version
 * matches, as pnpm and yarn refuse them), `file:`/`link:` paths to a
 * workspace package's directory, and plain ranges (`*`, `^1.2.0`) that the
 * workspace package's version satisfies. A plain range it does not satisfy
 * is third-party: npm fetches that version from the registry.
 */
export class PackageDependenciesKey implements Key<PackageDependencies> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `package-dependencies:${dir}`;
  }
  describe(): string {
    return `dependencies of the package in ${this.#dir || '//'}`;
  }
  async compute(ctx: ComputeContext): Promise<PackageDependencies> {
    const [manifest, w] = await Promise.all([ctx.get(new PackageJsonKey(this.#ws, this.#dir)), ctx.get(new JsWorkspaceKey(this.#ws))]);
    if (manifest === null) return { firstParty: [], thirdParty: [] };
    const byName = new Map(w.packages.filter((p) => p.name !== null).map((p) => [p.name!, p]));
    const byDir = new Map(w.packages.map((p) => [p.dir, p]));
    const first = new Map<string, FirstPartyDependency>();
    const third: ThirdPartyDependency[] = [];
    for (const d of manifest.dependencies) {
      const target = resolveFirstParty(this.#dir, d, byName, byDir);
      if (target === undefined) third.push({ name: d.name, range: d.range, field: d.field });
      else if (target.dir !== this.#dir && !first.has(target.dir)) first.set(target.dir, { name: d.name, dir: target.dir, range: d.range, field: d.field });
    }
    return { firstParty: [...first.values()].sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0)), thirdParty: third };
  }
}

/** The workspace package a dependency links to, or undefined for a third-party one. */
function resolveFirstParty(dir: string, d: DeclaredDependency, byName: ReadonlyMap<string, JsPackage>, byDir: ReadonlyMap<string, JsPackage>): JsPackage | undefined {
  const range = d.range.trim();
  const named = byName.get(d.name);
  if (range.startsWith('workspace:')) {
    const spec = range.slice('workspace:'.length);
    // `workspace:../lib` and `workspace:*` forms; an alias (`workspace:other@*`) names another package.
    const alias = /^(@?[^@]+)@(.*)$/.exec(spec);
    const pkgName = alias?.[1] ?? d.name;
    const want = alias?.[2] ?? spec;
    const pkg = byName.get(pkgName) ?? (want.startsWith('.') ? byDir.get(toRelPath(joinRel(dir, want)) ?? '\0') : undefined);
    if (pkg === undefined) {
      const guess = closest(pkgName, byName.keys());
      raise(
        failure('input', 'unknown-workspace-package', `\`${d.name}\` is \`${d.range}\`, but no package of the workspace is named \`${pkgName}\``, {
          location: d.at,
          hints: [guess !== undefined ? `did you mean \`${guess}\`?` : 'the `workspace:` protocol links a package of this workspace; use a version range for a package from the registry'],
        }),
      );
    }
    if (want === '' || want === '*' || want === '^' || want === '~' || want.startsWith('.')) return pkg;
    if (semver.validRange(want) === null) {
      raise(failure('input', 'bad-version-range', `\`${d.name}\` is \`${d.range}\`: \`${want}\` is not a version range`, { location: d.at, hints: ['write `workspace:*`, `workspace:^` or `workspace:<range>`'] }));
    }
    if (pkg.version === null || !semver.satisfies(pkg.version, want, { loose: true })) {
      raise(
        failure('input', 'workspace-version-mismatch', `\`${d.name}\` is \`${d.range}\`, but the workspace's ${pkgName} is ${pkg.version === null ? 'unversioned' : `at ${pkg.version}`}`, {
          location: d.at,
          hints: ['use `workspace:*` to take whatever version the workspace has, or change the range'],
        }),
      );
    }
    return pkg;
  }
  const path = /^(file|link):(.*)$/.exec(range);
  if (path !== null) {
    const rel = toRelPath(joinRel(dir, path[2]!));
    return rel === undefined ? undefined : byDir.get(rel);
  }
  if (named === undefined) return undefined;
  if (range === '' || range === '*' || range === 'x') return named;
  if (named.version === null || semver.validRange(range, { loose: true }) === null) return undefined;
  return semver.satisfies(named.version, range, { loose: true }) ? named : undefined;
}
