import { posix } from 'node:path';
import { digestEquals, failure, FailureError, joinRel, toRelPath, type Digest } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { EXEC_RUN, makeProcess, type LocalCache, type ProcessResult } from '../../exec/index.js';
import { GlobKey, ListingKey } from '../../fs/index.js';
import { EMPTY_TREE_DIGEST, mergeTrees, removeFromTree, SnapshotKey, treeDirAt, treeFromBytes } from '../../store/index.js';
import { outputExcerpt, processFailure, RuleContext, shimText, TOOLS_DIR, type RuleEnv, type Tool } from '../api/index.js';
import { jsSandbox, LOCAL } from './js-sandbox.js';
import { nodeTool, packageManagerTool, shTool } from './nodejs.js';
import { INSTALL_NETWORK_OPTION, JAVASCRIPT_SCOPE } from './pipeline.js';
import { PackageDependenciesKey } from './package-dependencies.js';
import { PNPM_WORKSPACE_FILE } from './pnpm-workspace.js';
import { JsWorkspaceKey, requireLockfile, requirePackageManager, type JsWorkspace, type PackageManagerName } from './workspace.js';
import { NODE_MODULES } from './workspace-dirs.js';

/** A link the package manager made to a workspace package (or to a program of one, in `.bin`), re-made in each sandbox that holds the package. */
export interface WorkspaceLink {
  /** Root-relative path of the link (`node_modules/@acme/lib`, `node_modules/.bin/acme`). */
  readonly path: string;
  /** As the package manager wrote it (relative). */
  readonly target: string;
  /** The workspace package it leads to. */
  readonly pkgDir: string;
}

/** The workspace's installed third-party packages. */
export interface JsInstall {
  /** node_modules directories at their build-root paths, without the links to workspace packages. */
  readonly tree: Digest;
  readonly links: readonly WorkspaceLink[];
  /** The node_modules directories the tree holds (root-relative): sandboxes keep them real, so tools can add caches there. */
  readonly realDirs: readonly string[];
  /** The install's process result (for provenance). */
  readonly result: ProcessResult;
}

/** Where the package manager keeps its downloads inside the install's sandbox (linked to the user's cache). */
const CACHE_IN_SANDBOX = '.trews-cache';
/** HOME of sandboxed processes: a scratch directory of their own (relative; made absolute by the process's driver, or used as is by the install). */
export const SANDBOX_HOME = '.trews-home';

/** Files at the build root besides the lockfile and package.json files that change what an install does. */
const ROOT_CONFIG = ['.npmrc', '.yarnrc', '.yarnrc.yml', PNPM_WORKSPACE_FILE, '.pnpmfile.cjs'];
const CONFIG_GLOBS = ['.yarn/releases/**', '.yarn/plugins/**', '.yarn/patches/**', 'patches/**'];

interface InstallCommand {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** What a stale lockfile makes the package manager print. */
  readonly outOfDate: RegExp;
  /** The command that brings the lockfile up to date. */
  readonly fix: string;
  /** Files the package manager writes into node_modules that name the sandbox (absolute paths): left out of the tree. */
  readonly volatile: readonly string[];
}

function installCommand(name: PackageManagerName, version: string): InstallCommand {
  const cache = `${CACHE_IN_SANDBOX}/${name}`;
  switch (name) {
    case 'npm':
      return {
        args: ['ci', '--no-audit', '--no-fund', '--prefer-offline'],
        env: { npm_config_cache: cache, npm_config_update_notifier: 'false', npm_config_progress: 'false' },
        outOfDate: /can only install packages when your package\.json and package-lock\.json|Missing: .* from lock file|Invalid: lock file's/,
        fix: 'npm install',
        volatile: [],
      };
    case 'pnpm':
      return {
        args: ['install', '--frozen-lockfile', '--prefer-offline'],
        env: { npm_config_store_dir: cache, npm_config_update_notifier: 'false' },
        outOfDate: /ERR_PNPM_OUTDATED_LOCKFILE|ERR_PNPM_LOCKFILE_CONFIG_MISMATCH|is not up to date with/,
        fix: 'pnpm install',
        volatile: ['node_modules/.modules.yaml'],
      };
    case 'yarn':
      if (version.startsWith('1.')) {
        return {
          args: ['install', '--frozen-lockfile', '--prefer-offline', '--non-interactive'],
          env: { YARN_CACHE_FOLDER: cache },
          outOfDate: /lockfile needs to be updated/,
          fix: 'yarn install',
          volatile: ['node_modules/.yarn-integrity'],
        };
      }
      return {
        args: ['install', '--immutable'],
        env: {
          YARN_CACHE_FOLDER: cache,
          YARN_ENABLE_GLOBAL_CACHE: 'false',
          // trews runs scripts with node_modules; Plug'n'Play is not supported.
          YARN_NODE_LINKER: 'node-modules',
          YARN_ENABLE_TELEMETRY: '0',
          YARN_ENABLE_PROGRESS_BARS: 'false',
          YARN_ENABLE_COLORS: 'false',
        },
        outOfDate: /YN0028|lockfile would have been modified/,
        fix: 'yarn install',
        volatile: [],
      };
  }
}

/** The user's download cache of the package manager, from the client's environment (as the package manager finds it). */
async function hostCache(rc: RuleContext, name: PackageManagerName, version: string): Promise<string | undefined> {
  const home = await rc.clientVar('HOME');
  const abs = (p: string | undefined): string | undefined => (p !== undefined && p.startsWith('/') ? p : undefined);
  switch (name) {
    case 'npm':
      return abs(await rc.clientVar('npm_config_cache')) ?? abs(await rc.clientVar('NPM_CONFIG_CACHE')) ?? (home ? `${home}/.npm` : undefined);
    case 'pnpm': {
      const own = abs(await rc.clientVar('npm_config_store_dir'));
      if (own !== undefined) return own;
      const data = abs(await rc.clientVar('XDG_DATA_HOME')) ?? (home ? `${home}/.local/share` : undefined);
      return data === undefined ? undefined : `${data}/pnpm/store`;
    }
    case 'yarn': {
      const own = abs(await rc.clientVar('YARN_CACHE_FOLDER'));
      if (own !== undefined) return own;
      if (version.startsWith('1.')) {
        const cache = abs(await rc.clientVar('XDG_CACHE_HOME')) ?? (home ? `${home}/.cache` : undefined);
        return cache === undefined ? undefined : `${cache}/yarn`;
      }
      return home ? `${home}/.yarn/berry/cache` : undefined;
    }
  }
}

/** The shims of `tools` in `.trews-tools/`. */
export function shimsTree(rc: RuleContext, tools: readonly Tool[]): Promise<Digest> {
  const byName = new Map(tools.map((t) => [t.name, t]));
  return treeFromBytes(
    rc.store,
    [...byName.values()].map((tool) => ({ path: `${TOOLS_DIR}/${tool.name}`, content: shimText(tool), isExecutable: true })),
    rc.signal,
  );
}

/**
 * The files an install reads: the lockfile, every package.json, the package
 * manager's configuration, and `file:` dependencies. What the package
 * manager needs to see the project (pnpm's and yarn's `pack` too).
 */
export async function installInputs(rc: RuleContext, w: JsWorkspace, lockfile: string): Promise<string[]> {
  const ctx = rc;
  const ws = rc.project.ws;
  const top = await ctx.get(new ListingKey(ws, ''));
  const paths = new Set<string>([lockfile, ...w.packages.map((p) => joinRel(p.dir, 'package.json'))]);
  for (const f of ROOT_CONFIG) if (top.files.includes(f)) paths.add(f);
  const globs = [...CONFIG_GLOBS];
  for (const p of w.packages) {
    for (const d of (await ctx.get(new PackageDependenciesKey(ws, p.dir))).thirdParty) {
      const m = /^(file|link):(.*)$/.exec(d.range.trim());
      const rel = m === null ? undefined : toRelPath(joinRel(p.dir, m[2]!));
      if (rel !== undefined && rel !== '') globs.push(rel, `${rel}/**`);
    }
  }
  for (const f of (await ctx.get(new GlobKey(ws, '', globs))).files) paths.add(f);
  return [...paths].sort();
}

/**
 * One frozen install per workspace (`npm ci`, `pnpm install
 * --frozen-lockfile`, `yarn install --immutable`), run as a hermetic,
 * cached process: its inputs are the lockfile, every package.json, the
 * package manager's configuration files and `file:` dependencies; node and
 * the package manager are in the cache key by their shims (content digest;
 * the package manager also by its version). The user's download cache is
 * linked in (no part of the action: the lockfile pins every package's
 * integrity), HOME is a scratch directory. Its outputs — every
 * node_modules directory — are one tree in the CAS, which sandboxes share
 * (README.md).
 */
export class JsInstallKey implements Key<JsInstall> {
  readonly id = 'js-install';
  readonly #renv: RuleEnv;

  constructor(renv: RuleEnv) {
    this.#renv = renv;
  }

  describe(): string {
    return 'the install of the JavaScript workspace';
  }

  async compute(ctx: ComputeContext, signal: AbortSignal): Promise<JsInstall> {
    const rc = new RuleContext(ctx, this.#renv, signal);
    const w = await ctx.get(new JsWorkspaceKey(rc.project.ws));
    const pm = requirePackageManager(w);
    const lockfile = requireLockfile(w);
    const at = { file: lockfile };
    const [node, sh, manager, inputs] = await Promise.all([
      nodeTool(rc, 'which runs the install', at),
      shTool(rc, 'which runs install scripts', at),
      packageManagerTool(rc, pm),
      installInputs(rc, w, lockfile),
    ]);
    const store = ctx.slot(EXEC_RUN).store;
    const snapshot = await ctx.get(new SnapshotKey(rc.project.ws, store, inputs));
    const tools = [node, sh, manager.tool];
    const shims = await shimsTree(rc, tools);
    const inputRoot = await mergeTrees(store, [snapshot.digest, shims], signal);
    const cmd = installCommand(pm.name, manager.version);
    const host = await hostCache(rc, pm.name, manager.version);
    const localCaches: LocalCache[] = host === undefined ? [] : [{ path: `${CACHE_IN_SANDBOX}/${pm.name}`, hostDir: host }];
    const network = (await rc.options(JAVASCRIPT_SCOPE)).bool(INSTALL_NETWORK_OPTION);
    const sandbox = await jsSandbox(rc, undefined, LOCAL, tools, manager, {
      network,
      declareHint: `the install reads the lockfile, every package.json, ${ROOT_CONFIG.join(', ')}, ${CONFIG_GLOBS.join(', ')} and \`file:\` dependencies of the workspace; the package manager's own configuration elsewhere (the home directory's .npmrc, /etc) is not seen: put it in the build root's .npmrc`,
    });
    const outputDirectories = [NODE_MODULES, ...w.packages.filter((p) => p.dir !== '').map((p) => `${p.dir}/${NODE_MODULES}`)];
    const process = makeProcess({
      argv: [`${TOOLS_DIR}/${pm.name}`, ...cmd.args],
      env: { ...cmd.env, PATH: TOOLS_DIR, HOME: SANDBOX_HOME },
      inputRoot,
      outputDirectories,
      description: `Install the JavaScript workspace (${pm.name} ${cmd.args[0]})`,
      cacheScope: 'successful',
      localCaches,
      ...sandbox,
    });
    const result = await rc.execute(process);
    if (result.exitCode !== 0 || result.timedOut) await raiseInstallFailure(rc, result, cmd, lockfile, pm.name);
    return finishInstall(rc, result, w, outputDirectories, cmd.volatile);
  }
}

async function raiseInstallFailure(rc: RuleContext, result: ProcessResult, cmd: InstallCommand, lockfile: string, pm: PackageManagerName): Promise<never> {
  const text = [...(await outputExcerpt(rc.store, result.stdout, 400, rc.signal)), ...(await outputExcerpt(rc.store, result.stderr, 400, rc.signal))].join('\n');
  if (cmd.outOfDate.test(text)) {
    const lines = text.split('\n').filter((l) => l.trim() !== '').slice(-12);
    throw new FailureError(
      failure('input', 'lockfile-out-of-date', `the lockfile ${lockfile} is out of date: it does not match the package.json files`, {
        location: { file: lockfile },
        notes: [`${pm} said:`, ...lines.map((l) => `  ${l}`)],
        hints: [`run \`${cmd.fix}\` at the build root and commit ${lockfile}`],
      }),
    );
  }
  throw new FailureError(await processFailure(rc.store, `installing the workspace's dependencies (${pm} ${cmd.args.join(' ')})`, result, null, { file: lockfile }, rc.signal));
}

/** Whether `p` (root-relative) is inside a node_modules directory. */
function inModules(p: string): boolean {
  return p === NODE_MODULES || p.startsWith(`${NODE_MODULES}/`) || p.includes(`/${NODE_MODULES}/`) || p.endsWith(`/${NODE_MODULES}`);
}

/**
 * The install's tree without what belongs to one sandbox or one machine:
 * links to workspace packages (each sandbox makes those it needs) and
 * `.bin` entries through them, and files that name the install's sandbox.
 */
async function finishInstall(rc: RuleContext, result: ProcessResult, w: JsWorkspace, outputDirs: readonly string[], volatile: readonly string[]): Promise<JsInstall> {
  const store = rc.store;
  const tree = result.outputRoot;
  const pkgDirs = w.packages.map((p) => p.dir);
  const links: WorkspaceLink[] = [];
  const realDirs: string[] = [];
  const workspaceTarget = (resolved: string): string | undefined => (inModules(resolved) ? undefined : pkgDirs.find((d) => d === resolved));
  for (const nm of outputDirs) {
    const top = await treeDirAt(store, tree, nm, rc.signal);
    if (top === undefined) continue;
    realDirs.push(nm);
    const candidates = [...top.symlinks.map((s) => ({ dir: nm, ...s }))];
    for (const scope of top.dirs.filter((d) => d.startsWith('@'))) {
      const sub = await treeDirAt(store, tree, `${nm}/${scope}`, rc.signal);
      for (const s of sub?.symlinks ?? []) candidates.push({ dir: `${nm}/${scope}`, ...s });
    }
    const here: WorkspaceLink[] = [];
    for (const c of candidates) {
      const resolved = posix.normalize(posix.join(c.dir, c.target));
      const pkgDir = workspaceTarget(resolved === '.' ? '' : resolved);
      if (pkgDir !== undefined) here.push({ path: `${c.dir}/${c.name}`, target: c.target, pkgDir });
    }
    const bin = top.dirs.includes('.bin') ? await treeDirAt(store, tree, `${nm}/.bin`, rc.signal) : undefined;
    for (const s of bin?.symlinks ?? []) {
      const resolved = posix.normalize(posix.join(`${nm}/.bin`, s.target));
      const through = here.find((l) => resolved.startsWith(`${l.path}/`));
      if (through !== undefined) here.push({ path: `${nm}/.bin/${s.name}`, target: s.target, pkgDir: through.pkgDir });
    }
    links.push(...here);
  }
  const cleaned = await removeFromTree(store, tree, [...links.map((l) => l.path), ...volatile], rc.signal);
  return { tree: digestEquals(cleaned, EMPTY_TREE_DIGEST) ? EMPTY_TREE_DIGEST : cleaned, links, realDirs, result };
}
