import { failure, raise, toRelPath, type Failure, type Location } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { ListingKey, type Workspace } from '../../fs/index.js';
import { PackageJsonKey, type PackageManifest, type WorkspacePattern } from './package-json.js';
import { PNPM_WORKSPACE_FILE, PnpmWorkspaceKey } from './pnpm-workspace.js';
import { WorkspaceDirsKey } from './workspace-dirs.js';

export type PackageManagerName = 'npm' | 'pnpm' | 'yarn';

/** Lockfiles at the build root, and the package manager each belongs to. */
export const LOCKFILES: Readonly<Record<string, PackageManagerName>> = {
  'package-lock.json': 'npm',
  'npm-shrinkwrap.json': 'npm',
  'pnpm-lock.yaml': 'pnpm',
  'yarn.lock': 'yarn',
};

const LOCKFILE_OF: Readonly<Record<PackageManagerName, string>> = { npm: 'package-lock.json', pnpm: 'pnpm-lock.yaml', yarn: 'yarn.lock' };

export interface PackageManager {
  readonly name: PackageManagerName;
  /** From `packageManager` (`pnpm@9.1.0` → `9.1.0`); null when the root does not pin one. */
  readonly version: string | null;
  /** Root-relative path of its lockfile; null when there is none yet. */
  readonly lockfile: string | null;
  /** What decided it, for messages: `the packageManager field`, `pnpm-lock.yaml`, … */
  readonly decidedBy: string;
}

/** One package of the workspace: the root package (dir '') and each one its globs select. */
export interface JsPackage {
  readonly dir: string;
  readonly name: string | null;
  readonly version: string | null;
}

/**
 * The JavaScript workspace at the build root. Only what the packages'
 * targets and the install need: names and versions, not scripts, so a
 * package.json edit that changes neither cuts off here.
 */
export interface JsWorkspace {
  /** Whether there is one: a package.json or pnpm-workspace.yaml at the root. */
  readonly present: boolean;
  /** Where the globs came from: `pnpm-workspace.yaml`, `package.json`, or null (the root package alone). */
  readonly globsFrom: string | null;
  readonly packageManager: PackageManager;
  /** Evidence that disagrees (two lockfiles, a `packageManager` another lockfile contradicts): raised by `requirePackageManager`. */
  readonly problem: Failure | null;
  /** Sorted by directory; the root package first when there is a root package.json. */
  readonly packages: readonly JsPackage[];
}

const NONE: JsWorkspace = {
  present: false,
  globsFrom: null,
  packageManager: { name: 'npm', version: null, lockfile: null, decidedBy: 'the default' },
  problem: null,
  packages: [],
};

/**
 * Discovers the workspace from the build root, as the package managers do:
 * pnpm-workspace.yaml's `packages` when that file exists (pnpm reads only
 * it), else the root package.json's `workspaces`; `!` globs exclude. The
 * package manager comes from `packageManager`, else from the one lockfile
 * present, else pnpm when pnpm-workspace.yaml exists, else npm.
 */
export class JsWorkspaceKey implements Key<JsWorkspace> {
  readonly id = 'js-workspace';
  readonly #ws: Workspace;
  constructor(ws: Workspace) {
    this.#ws = ws;
  }
  describe(): string {
    return 'the JavaScript workspace';
  }
  async compute(ctx: ComputeContext): Promise<JsWorkspace> {
    const top = await ctx.get(new ListingKey(this.#ws, ''));
    const hasRootManifest = top.files.includes('package.json');
    const hasPnpmFile = top.files.includes(PNPM_WORKSPACE_FILE);
    if (!hasRootManifest && !hasPnpmFile) return NONE;
    const root = hasRootManifest ? await ctx.get(new PackageJsonKey(this.#ws, '')) : null;
    const pnpmGlobs = hasPnpmFile ? await ctx.get(new PnpmWorkspaceKey(this.#ws)) : null;
    let globs: readonly WorkspacePattern[] = [];
    let globsFrom: string | null = null;
    if (pnpmGlobs !== null) {
      globs = pnpmGlobs;
      globsFrom = PNPM_WORKSPACE_FILE;
    } else if (root !== null) {
      if (root.workspacesProblem !== null) raise(root.workspacesProblem);
      if (root.workspaces !== null) {
        globs = root.workspaces;
        globsFrom = 'package.json';
      }
    }
    const patterns = globs.map(normalizePattern);
    const dirs = await ctx.get(new WorkspaceDirsKey(this.#ws, patterns));
    await checkLiteralPatterns(ctx, this.#ws, globs, patterns, dirs);
    const manifests = (await ctx.getAll(dirs.map((d) => new PackageJsonKey(this.#ws, d)))).filter((m): m is PackageManifest => m !== null);
    const all = root !== null ? [root, ...manifests] : manifests;
    checkUniqueNames(all);
    const { manager, problem } = detectPackageManager(root, top.files, hasPnpmFile);
    return {
      present: true,
      globsFrom,
      packageManager: manager,
      problem,
      packages: all.map((m) => ({ dir: m.dir, name: m.name, version: m.version })),
    };
  }
}

/**
 * The workspace package whose directory is `dir`, or null. What a
 * directory's targets read, so they re-validate only when their own entry
 * (not the whole workspace) changed.
 */
export class JsPackageAtKey implements Key<JsPackage | null> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `js-package-at:${dir}`;
  }
  describe(): string {
    return `the JavaScript package in ${this.#dir || '//'}`;
  }
  async compute(ctx: ComputeContext): Promise<JsPackage | null> {
    const w = await ctx.get(new JsWorkspaceKey(this.#ws));
    return w.packages.find((p) => p.dir === this.#dir) ?? null;
  }
}

/** The directories of the workspace packages at or under `dir`, sorted: where targets are inferred, and which directories a package's files stop at. */
export class JsPackageDirsUnderKey implements Key<readonly string[]> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `js-package-dirs-under:${dir}`;
  }
  describe(): string {
    return `JavaScript packages under ${this.#dir || '//'}`;
  }
  async compute(ctx: ComputeContext): Promise<readonly string[]> {
    const w = await ctx.get(new JsWorkspaceKey(this.#ws));
    const d = this.#dir;
    return w.packages.map((p) => p.dir).filter((p) => d === '' || p === d || p.startsWith(`${d}/`));
  }
}

/** A workspace glob as the directory walk expects it; one that leaves the build root is an error at it. */
function normalizePattern(p: WorkspacePattern): string {
  const neg = p.pattern.startsWith('!');
  let body = (neg ? p.pattern.slice(1) : p.pattern).trim();
  while (body.startsWith('./')) body = body.slice(2);
  body = body.replace(/\/+$/, '').replace(/\/package\.json$/, '');
  const rel = body === '' || body === '.' ? '' : toRelPath(body);
  if (body.startsWith('/') || rel === undefined) {
    raise(
      failure('input', 'bad-workspace-glob', `workspace glob \`${p.pattern}\` points outside the build root`, {
        location: p.at,
        hints: ['workspace packages live under the build root: use a glob relative to it, like `packages/*`'],
      }),
    );
  }
  return neg ? `!${rel}` : rel;
}

/** A literal directory (no wildcard) in the globs that holds no package.json is a mistake worth naming. */
async function checkLiteralPatterns(
  ctx: ComputeContext,
  ws: Workspace,
  globs: readonly WorkspacePattern[],
  patterns: readonly string[],
  dirs: readonly string[],
): Promise<void> {
  const found = new Set(dirs);
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i]!;
    if (p.startsWith('!') || p === '' || /[*?[\]{}()!+@]/.test(p) || found.has(p)) continue;
    const listing = await ctx.get(new ListingKey(ws, p));
    if (listing.files.includes('package.json')) continue; // excluded by a `!` glob
    raise(
      failure('input', 'missing-workspace-package', `workspace \`${globs[i]!.pattern}\` has no package.json`, {
        location: globs[i]!.at,
        hints: [listing.exists ? `create ${p}/package.json, or remove the entry` : `${p} does not exist (or is ignored): fix the path, or remove the entry`],
      }),
    );
  }
}

/** Two workspace packages with one name: npm and pnpm refuse them, and so must dependencies by name. */
function checkUniqueNames(manifests: readonly PackageManifest[]): void {
  const seen = new Map<string, PackageManifest>();
  for (const m of manifests) {
    if (m.name === null) continue;
    const prev = seen.get(m.name);
    if (prev !== undefined) {
      raise(
        failure('input', 'duplicate-package-name', `two workspace packages are named \`${m.name}\``, {
          location: m.at,
          notes: [`also the name in ${prev.at.file}:${prev.at.line}:${prev.at.col}`],
          hints: ['package names must be unique in a workspace: rename one of them'],
        }),
      );
    }
    seen.set(m.name, m);
  }
}

/**
 * The package manager, by a documented order: the root's `packageManager`
 * field, else the one lockfile present, else pnpm when pnpm-workspace.yaml
 * exists, else npm. Evidence that contradicts the decision is a problem the
 * workspace carries, raised only when something needs the package manager.
 */
export function detectPackageManager(
  root: PackageManifest | null,
  rootFiles: readonly string[],
  hasPnpmFile: boolean,
): { manager: PackageManager; problem: Failure | null } {
  const locks = rootFiles.filter((f) => f in LOCKFILES).sort();
  // npm-shrinkwrap.json sorts before package-lock.json, and npm prefers it too.
  const lockOf = (name: PackageManagerName): string | null => locks.find((l) => LOCKFILES[l] === name) ?? null;
  const field = root?.packageManager ?? null;
  if (field !== null) {
    const m = /^(npm|pnpm|yarn)@(\d[^+\s]*)(\+.*)?$/.exec(field.value);
    if (m === null) {
      const guess = /^([a-z]+)@/.exec(field.value)?.[1];
      const fallback = fromLockfiles(locks, hasPnpmFile, lockOf);
      return {
        manager: fallback.manager,
        problem: failure('input', 'bad-package-manager', `\`packageManager\` is \`${field.value}\`: trews knows npm, pnpm and yarn, written \`name@version\``, {
          location: field.at,
          hints: [guess !== undefined && !['npm', 'pnpm', 'yarn'].includes(guess) ? `${guess} is not supported yet; use npm, pnpm or yarn` : 'write it like `pnpm@9.1.0`'],
        }),
      };
    }
    const name = m[1] as PackageManagerName;
    const manager: PackageManager = { name, version: m[2]!, lockfile: lockOf(name), decidedBy: 'the `packageManager` field' };
    const others = locks.filter((l) => LOCKFILES[l] !== name);
    if (others.length > 0) {
      return {
        manager,
        problem: failure('input', 'package-manager-mismatch', `\`packageManager\` says ${name}, but ${others.join(' and ')} belong${others.length === 1 ? 's' : ''} to ${others.map((l) => LOCKFILES[l]).join(' and ')}`, {
          location: field.at,
          hints: [`delete ${others.join(' and ')} if ${name} is the package manager, or fix \`packageManager\``],
        }),
      };
    }
    if (hasPnpmFile && name !== 'pnpm') return { manager, problem: pnpmFileMismatch(name, 'the `packageManager` field', field.at) };
    return { manager, problem: null };
  }
  return fromLockfiles(locks, hasPnpmFile, lockOf);
}

function fromLockfiles(
  locks: readonly string[],
  hasPnpmFile: boolean,
  lockOf: (name: PackageManagerName) => string | null,
): { manager: PackageManager; problem: Failure | null } {
  const names = [...new Set(locks.map((l) => LOCKFILES[l]!))];
  if (names.length === 1) {
    const name = names[0]!;
    const manager: PackageManager = { name, version: null, lockfile: lockOf(name), decidedBy: lockOf(name)! };
    return { manager, problem: hasPnpmFile && name !== 'pnpm' ? pnpmFileMismatch(name, manager.lockfile!, { file: manager.lockfile! }) : null };
  }
  const fallback: PackageManagerName = hasPnpmFile ? 'pnpm' : 'npm';
  if (names.length === 0) return { manager: { name: fallback, version: null, lockfile: null, decidedBy: hasPnpmFile ? PNPM_WORKSPACE_FILE : 'the default' }, problem: null };
  return {
    manager: { name: fallback, version: null, lockfile: lockOf(fallback), decidedBy: 'the default' },
    problem: failure('input', 'several-lockfiles', `the build root has lockfiles of several package managers: ${locks.join(', ')}`, {
      location: { file: locks[0]! },
      hints: ['delete the ones of the package managers you do not use, or name the one you use in the root package.json: `"packageManager": "pnpm@9.1.0"`'],
    }),
  };
}

function pnpmFileMismatch(name: PackageManagerName, decidedBy: string, at: Location): Failure {
  return failure('input', 'package-manager-mismatch', `${decidedBy} says ${name}, but ${PNPM_WORKSPACE_FILE} is only read by pnpm`, {
    location: at,
    hints: [`move the globs of ${PNPM_WORKSPACE_FILE} to \`workspaces\` in package.json and delete it, or use pnpm`],
  });
}

/** The workspace's package manager; raises when the evidence disagrees. */
export function requirePackageManager(w: JsWorkspace): PackageManager {
  if (w.problem !== null) raise(w.problem);
  return w.packageManager;
}

/**
 * The lockfile an install needs; raises, naming the command that makes
 * one, when there is none. Only what installs calls this: listing targets
 * never needs a lockfile.
 */
export function requireLockfile(w: JsWorkspace): string {
  const pm = requirePackageManager(w);
  if (pm.lockfile !== null) return pm.lockfile;
  raise(
    failure('input', 'missing-lockfile', `the workspace has no lockfile (${LOCKFILE_OF[pm.name]}), which installing its dependencies needs`, {
      location: { file: w.globsFrom === PNPM_WORKSPACE_FILE ? PNPM_WORKSPACE_FILE : 'package.json' },
      notes: [`the package manager is ${pm.name}, decided by ${pm.decidedBy}`],
      hints: [`run \`${pm.name} install\` at the build root and commit ${LOCKFILE_OF[pm.name]}`],
    }),
  );
}
