import { posix } from 'node:path';
import picomatch from 'picomatch';
import { failure, FailureError, joinRel, type Digest, type Location } from '../../core/index.js';
import { makeProcess, type CacheScope, type Process } from '../../exec/index.js';
import { addPrefix, EMPTY_TREE_DIGEST, mergeTrees, SnapshotKey, subsetTree, treeFromFiles } from '../../store/index.js';
import { DependenciesKey, stringListField, type Address, type Target } from '../../targets/index.js';
import { environmentOf, EnvPrefixKey, inputClosure, sandboxInputs, SESSION_VARIABLES, TOOLS_DIR, workerTool, type Environment, type RuleContext, type Tool } from '../api/index.js';
import { JsInstallKey, SANDBOX_HOME, shimsTree, type JsInstall } from './install.js';
import { compilesFromDeclarations, declarationSandboxInputs, DECLARATION_INPUTS_OPTION } from './declaration-inputs.js';
import { jsSandbox } from './js-sandbox.js';
import { extraTools, nodeTool, NODEJS_SCOPE, packageManagerTool, shTool, type PackageManagerTool } from './nodejs.js';
import { PackageJsonKey, type PackageManifest } from './package-json.js';
import { JAVASCRIPT_SCOPE } from './pipeline.js';
import { NODE_SCRIPT, PACKAGE_JSON } from './target-types.js';
import { TSC_WORKER_OPTION, tscWorkerHint } from './tsc-worker-hint.js';
import { JsWorkspaceKey, requirePackageManager } from './workspace.js';
import { NODE_MODULES } from './workspace-dirs.js';

/**
 * How a script runs, as the package manager runs it but without starting
 * the package manager (~0.4 s per script for `npm run`): `sh -c` of each
 * stage's command — `pre<script>`, the script, `post<script>` where the
 * package manager runs those (npm and yarn 1) — in the package's directory,
 * with `node_modules/.bin` of the package and every directory above it on
 * PATH and the variables npm sets. This driver is constant (so it is the
 * same in every action); the stages are its arguments. It makes relative
 * PATH entries and HOME absolute first: the action's environment stays
 * free of sandbox paths, and a `cd` in a script cannot break them. The
 * `.bin` directories come in `TREWS_BIN_PATH` (unset before the script
 * runs), not PATH: the `sh` shim replaces a PATH that starts relative
 * with its own directory.
 */
export const DRIVER = [
  'p=',
  // Joined first: a literal `:` between two expansions is no field separator.
  'all=$TREWS_BIN_PATH:$PATH',
  'IFS=:',
  'for d in $all; do',
  "  case $d in '') continue ;; /*) ;; *) d=$(cd \"$d\" 2>/dev/null && pwd) || continue ;; esac",
  '  p=${p:+$p:}$d',
  'done',
  'unset IFS all TREWS_BIN_PATH',
  'PATH=$p',
  'case $HOME in /*) ;; *) mkdir -p "$HOME" && HOME=$(cd "$HOME" && pwd) ;; esac',
  'INIT_CWD=$(pwd)',
  'npm_package_json=$INIT_CWD/package.json',
  'export PATH HOME INIT_CWD npm_package_json',
  'while [ $# -gt 0 ]; do',
  '  npm_lifecycle_event=$1 npm_lifecycle_script=$2',
  '  export npm_lifecycle_event npm_lifecycle_script',
  '  (eval "$2") || exit $?',
  '  shift 2',
  'done',
].join('\n');

/** Characters a shell word may hold unquoted. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;
export function shellQuote(s: string): string {
  return s !== '' && PLAIN.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A script's stages: `[event, command]` pairs, pre and post scripts where the package manager runs them, arguments appended to the script's own. */
export function stages(manifest: PackageManifest, script: string, runsPrePost: boolean, args: readonly string[]): string[] {
  const command = (name: string): string | undefined => manifest.scripts.find((s) => s.name === name)?.command;
  const main = command(script) ?? '';
  const out: string[] = [];
  const pre = runsPrePost ? command(`pre${script}`) : undefined;
  if (pre !== undefined) out.push(`pre${script}`, pre);
  out.push(script, args.length === 0 ? main : `${main} ${args.map(shellQuote).join(' ')}`);
  const post = runsPrePost ? command(`post${script}`) : undefined;
  if (post !== undefined) out.push(`post${script}`, post);
  return out;
}

/** Whether the package manager runs `pre<x>`/`post<x>` around `x`: npm and yarn 1 do; pnpm (since 7) and yarn 2+ do not. */
export function runsPrePost(pm: PackageManagerTool): boolean {
  return pm.name === 'npm' || (pm.name === 'yarn' && pm.version.startsWith('1.'));
}

/** `node_modules/.bin` of `dir` and of every directory above it, as npm puts them on PATH (relative to `dir`, or absolute under `root`). */
export function binDirs(dir: string, root?: string): string[] {
  const out: string[] = [];
  const parts = dir === '' ? [] : dir.split('/');
  for (let i = parts.length; i >= 0; i--) {
    const at = parts.slice(0, i).join('/');
    out.push(root !== undefined ? posix.join(root, at, NODE_MODULES, '.bin') : posix.join(posix.relative(dir || '.', at || '.') || '.', NODE_MODULES, '.bin'));
  }
  return out;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The values of a task's `env` entries (`NODE_ENV`, `NEXT_PUBLIC_*`) in the client's environment. */
export async function taskEnv(rc: RuleContext, t: Target, at: () => Promise<Location>): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const entry of stringListField(t, 'env')) {
    const prefix = entry.endsWith('*') ? entry.slice(0, -1) : undefined;
    const name = prefix ?? entry;
    if (name === 'PATH' || name === 'HOME' || (prefix === undefined && (SESSION_VARIABLES.has(name) || !ENV_NAME.test(name)))) {
      throw new FailureError(
        failure('input', 'bad-env-var', `\`env\` of ${t.address} names \`${entry}\`, which a script cannot take from the client`, {
          location: await at(),
          hints: ['PATH is node_modules/.bin and the tools; HOME is a directory of the sandbox; PWD, OLDPWD, SHLVL and _ describe the client\'s shell'],
        }),
      );
    }
    if (prefix !== undefined) Object.assign(env, await rc.get(new EnvPrefixKey(prefix)));
    else {
      const v = await rc.clientVar(name);
      if (v !== undefined) env[name] = v;
    }
  }
  delete env.PATH;
  delete env.HOME;
  return env;
}

/** A script's target, as the rules need it. */
export interface ScriptInfo {
  readonly t: Target;
  readonly pkgDir: string;
  readonly script: string;
  readonly manifest: PackageManifest;
  readonly location: Location;
  /** Declared outputs relative to the package. */
  readonly outputs: readonly string[];
}

export async function scriptInfo(rc: RuleContext, t: Target): Promise<ScriptInfo> {
  const pkgDir = t.addr.dir;
  const manifest = await rc.get(new PackageJsonKey(rc.project.ws, pkgDir));
  if (manifest === null) throw new Error(`bug: ${t.address} has no package.json`);
  const script = typeof t.fields['script'] === 'string' ? (t.fields['script'] as string) : t.addr.name;
  return { t, pkgDir, script, manifest, location: { file: t.buildFile, line: t.line, col: t.col }, outputs: stringListField(t, 'outputs') };
}

/**
 * The tools a script's PATH holds. In a remote environment they are names
 * the worker looks up on the environment's `executable_search_paths` (the
 * package manager's version is then the `packageManager` pin's, if any:
 * only yarn's, for pre/post scripts, matters to a script).
 */
export async function scriptTools(rc: RuleContext, info: ScriptInfo, environment?: Environment): Promise<{ tools: Tool[]; pm: PackageManagerTool }> {
  const w = await rc.get(new JsWorkspaceKey(rc.project.ws));
  if (environment?.kind === 'remote') {
    const decided = requirePackageManager(w);
    const names = (await rc.options(NODEJS_SCOPE)).list('tools');
    const on = environment.searchPaths;
    const pm: PackageManagerTool = { tool: workerTool(decided.name, on), name: decided.name, version: decided.version ?? '' };
    return { tools: [...names.map((n) => workerTool(n, on)), workerTool('node', on), workerTool('sh', on), pm.tool], pm };
  }
  const [node, sh, pm, extra] = await Promise.all([
    nodeTool(rc, `which runs ${info.t.address}`, info.location),
    shTool(rc, `which runs ${info.t.address}`, info.location),
    packageManagerTool(rc, requirePackageManager(w)),
    extraTools(rc),
  ]);
  return { tools: [...extra, node, sh, pm.tool], pm };
}

/**
 * What a script's sandbox holds besides the installed packages: its own
 * inputs, what its package's workspace dependencies contribute (their
 * files), the outputs of the scripts it depends on, and the directories
 * of every workspace package in it (for the links).
 */
async function scriptInputs(rc: RuleContext, info: ScriptInfo, commands: readonly string[]): Promise<{ tree: Digest; packageDirs: ReadonlySet<string> }> {
  const deps = await rc.get(new DependenciesKey(rc.project, info.t.addr));
  const targets = await rc.targets(deps.dependencies);
  const roots: Address[] = [];
  for (const d of targets) {
    if (d.type === PACKAGE_JSON && d.addr.dir === info.pkgDir) roots.push(...(await rc.get(new DependenciesKey(rc.project, d.addr))).dependencies);
    else roots.push(d.addr);
  }
  const closure = await inputClosure(rc, roots);
  const packageDirs = new Set([info.pkgDir, ...closure.filter((c) => c.type === PACKAGE_JSON || c.type === NODE_SCRIPT).map((c) => c.addr.dir)]);
  const declarationsOnly = (await rc.options(JAVASCRIPT_SCOPE)).bool(DECLARATION_INPUTS_OPTION) && (await compilesFromDeclarations(rc, commands, info.pkgDir));
  const [own, others] = await Promise.all([
    rc.get(new SnapshotKey(rc.project.ws, rc.store, info.t.sources)),
    declarationsOnly ? declarationSandboxInputs(rc, closure, info.pkgDir) : sandboxInputs(rc, roots),
  ]);
  return { tree: await mergeTrees(rc.store, [own.digest, others], rc.signal), packageDirs };
}

/** The links of the workspace packages in a sandbox, as the package manager laid them out. */
function linksTree(rc: RuleContext, install: JsInstall, packageDirs: ReadonlySet<string>): Promise<Digest> {
  const links = install.links.filter((l) => packageDirs.has(l.pkgDir));
  if (links.length === 0) return Promise.resolve(EMPTY_TREE_DIGEST);
  return treeFromFiles(rc.store, links.map((l) => ({ kind: 'symlink' as const, path: l.path, target: l.target })), rc.signal);
}

/** Output directories for REAPI from output globs: the literal part in front of each (`dist/**` → `dist`), nested ones dropped. */
export function outputDirsOf(globs: readonly string[]): string[] {
  const bases = [...new Set(globs.filter((g) => !g.startsWith('!')).map((g) => picomatch.scan(g).base))].sort();
  if (bases.includes('')) return [''];
  return bases.filter((b) => !bases.some((o) => o !== b && b.startsWith(`${o}/`)));
}

/**
 * The commands a script's process runs: the given stages', else the
 * script's with its pre and post scripts whether or not the package
 * manager runs them (the conservative side for telling what they are).
 */
function sandboxCommands(manifest: PackageManifest, script: string, given: readonly string[] | undefined, args: readonly string[]): string[] {
  if (given !== undefined) return given.filter((_, i) => i % 2 === 1);
  return stages(manifest, script, true, args).filter((_, i) => i % 2 === 1);
}

export interface PreparedScript {
  readonly process: Process;
  readonly timeoutS: number | null;
}

/**
 * The sandboxed process of a script: the install's tree (linked from a
 * shared read-only copy by the local sandbox), the links to the workspace
 * packages in it, its inputs, its dependencies' files and outputs, and
 * the tools; env is PATH, HOME, npm's variables and the task's `env`.
 */
export async function prepareScript(
  rc: RuleContext,
  info: ScriptInfo,
  opts: {
    cacheScope: CacheScope;
    timeoutS: number | null;
    args?: readonly string[];
    stages?: readonly string[];
    description?: string;
    /** The sandbox's workspace files in place of the script's inputs (a per-file test's closure), and the packages whose links it needs. */
    inputs?: { tree: Digest; packageDirs: ReadonlySet<string> };
    /** Variables besides npm's (a test runner's). */
    env?: Readonly<Record<string, string>>;
    /** The target whose `sandbox_isolation` applies (default: the script's): the package's, for tsc. */
    sandboxOf?: Target;
    /** What to tell the user to declare when strict isolation hides a file (default: the script's `extra_inputs`). */
    declareHint?: string;
  },
): Promise<PreparedScript> {
  const { t, pkgDir, manifest } = info;
  const environment = await environmentOf(rc, t);
  const [install, inputs, { tools, pm }, env] = await Promise.all([
    rc.get(new JsInstallKey(rc.ruleEnv)),
    opts.inputs ?? scriptInputs(rc, info, sandboxCommands(manifest, info.script, opts.stages, opts.args ?? [])),
    scriptTools(rc, info, environment),
    taskEnv(rc, t, () => rc.fieldLocation(t, 'env')),
  ]);
  const sandbox = await jsSandbox(rc, opts.sandboxOf ?? t, environment, tools, pm, {
    declareHint: opts.declareHint ?? `declare it: add it to \`extra_inputs\` of ${t.address} (a file of the workspace as \`//path/from/the/build/root\`), or its package to the package's dependencies`,
  });
  const [links, shims] = await Promise.all([linksTree(rc, install, inputs.packageDirs), shimsTree(rc, tools)]);
  const inputRoot = await mergeTrees(rc.store, [inputs.tree, install.tree, links, shims], rc.signal);
  const stageList = opts.stages ?? stages(manifest, info.script, runsPrePost(pm), opts.args ?? []);
  // The last `node` is the one on the sandbox's PATH (shimsTree keeps the last of a name).
  const node = tools.filter((x) => x.name === 'node' && x.searchOnWorker === undefined).at(-1);
  const worker =
    environment.kind === 'local' && sandbox.isolation === undefined && node !== undefined && (await rc.options(JAVASCRIPT_SCOPE)).bool(TSC_WORKER_OPTION)
      ? tscWorkerHint(stageList, pkgDir, node.path)
      : undefined;
  const toolsDir = posix.relative(pkgDir || '.', TOOLS_DIR);
  const outputDirectories = outputDirsOf(info.outputs);
  const process = makeProcess({
    argv: [`${toolsDir}/sh`, '-c', DRIVER, t.address, ...stageList],
    env: {
      ...env,
      ...opts.env,
      TREWS_BIN_PATH: binDirs(pkgDir).join(':'),
      PATH: toolsDir,
      HOME: posix.relative(pkgDir || '.', SANDBOX_HOME),
      ...(manifest.name !== null ? { npm_package_name: manifest.name } : {}),
      ...(manifest.version !== null ? { npm_package_version: manifest.version } : {}),
    },
    inputRoot,
    workingDirectory: pkgDir,
    outputDirectories,
    timeoutMs: opts.timeoutS === null ? null : opts.timeoutS * 1000,
    description: opts.description ?? `Run ${t.address} (${info.script}${pkgDir === '' ? '' : ` in ${pkgDir}`})`,
    cacheScope: opts.cacheScope,
    sharedInputs: [{ tree: install.tree, realDirs: install.realDirs }],
    ...sandbox,
    // Node and the tools are the worker's: the same tree digests, sent by digest (the worker makes node_modules from the CAS).
    ...(environment.kind === 'remote' ? { platform: environment.platform, remoteEnvironment: environment.name } : {}),
    ...(worker !== undefined ? { worker } : {}),
  });
  return { process, timeoutS: opts.timeoutS };
}

/** A script's outputs at their build-root paths: the captured directories narrowed by its output globs. */
export async function outputsTree(rc: RuleContext, info: ScriptInfo, outputRoot: Digest): Promise<Digest> {
  if (info.outputs.length === 0) return EMPTY_TREE_DIGEST;
  const narrowed = await subsetTree(rc.store, outputRoot, info.outputs, rc.signal);
  return info.pkgDir === '' ? narrowed : addPrefix(rc.store, narrowed, info.pkgDir, rc.signal);
}

/** The declared outputs as globs from the build root. */
export function rootGlobs(info: ScriptInfo): string[] {
  return info.outputs.map((g) => (g.startsWith('!') ? `!${joinRel(info.pkgDir, g.slice(1))}` : joinRel(info.pkgDir, g)));
}
