import { posix } from 'node:path';
import { failure, FailureError, joinRel, toRelPath, type Digest } from '../../core/index.js';
import { makeProcess, type CacheScope, type Process } from '../../exec/index.js';
import { mergeTrees } from '../../store/index.js';
import { stringField, stringListField, type Address, type Target } from '../../targets/index.js';
import {
  DeclaredDependenciesKey,
  isolationOf,
  environmentOf,
  workerTool,
  type Environment,
  resolveSystemBinary,
  resolveTool,
  sandboxInputs,
  toolsTree,
  TOOLS_DIR,
  type RuleContext,
  type Tool,
  SESSION_VARIABLES,
  SHELL_SEARCH,
  toolSearchPath,
  type SearchDirs,
  type ToolSearch,
} from '../api/index.js';
import { directWords } from './direct-command.js';
import { checkNoCycleThroughTests } from './test-cycle.js';

/** What differs between a shell_command, a test_shell_command and an adhoc_tool. */
/** The program a command runs, found where its environment says (see commandTools). */
export type ProgramRef = { readonly kind: 'bash' } | { readonly kind: 'system_binary'; readonly target: Target };

export interface CommandSpec {
  /** The program: bash (for commands and shell scripts) or a system_binary. */
  readonly program: ProgramRef;
  readonly args: readonly string[];
  /** Inputs beyond the execution dependencies (an adhoc_tool's shell_source runnable). */
  readonly extraInputs: readonly Address[];
  readonly outputFiles: readonly string[];
  readonly outputDirectories: readonly string[];
  readonly timeoutS: number | null;
  readonly cacheScope: CacheScope;
}

export interface PreparedCommand {
  readonly process: Process;
  /** The working directory, from the build root ('' is the root). */
  readonly workdir: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

async function inputError(rc: RuleContext, t: Target, field: string, item: string | undefined, reason: string, message: string, hints: string[] = []): Promise<never> {
  throw new FailureError(failure('input', reason, message, { location: await rc.fieldLocation(t, field, item), ...(hints.length > 0 ? { hints } : {}) }));
}

/**
 * `workdir` as Pants reads it: `.` the BUILD file's directory, `./x` below
 * it, `/` or '' the build root, `/x` below the root, anything else from the
 * root. Returns the root-relative directory.
 */
export async function workdirOf(rc: RuleContext, t: Target): Promise<string> {
  const raw = stringField(t, 'workdir') ?? '.';
  const dir = t.addr.dir;
  let p: string;
  if (raw === '.') p = dir;
  else if (raw.startsWith('./')) p = joinRel(dir, raw.slice(2));
  else if (raw === '' || raw === '/') p = '';
  else if (raw.startsWith('/')) p = raw.slice(1);
  else p = raw;
  const rel = toRelPath(p);
  if (rel === undefined) {
    return inputError(rc, t, 'workdir', undefined, 'bad-workdir', `\`workdir\` of ${t.address} (\`${raw}\`) leads outside the build root`);
  }
  return rel;
}

/** Output paths are relative to the working directory and must stay below it. */
async function checkedOutputs(rc: RuleContext, t: Target, field: string, paths: readonly string[], allowDot: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const raw of paths) {
    const rel = raw.startsWith('/') ? undefined : toRelPath(raw);
    if (rel === undefined || (rel === '' && !allowDot)) {
      await inputError(rc, t, field, raw, 'bad-output-path', `\`${field}\` entry \`${raw}\` of ${t.address} must be a path relative to the working directory, inside it`);
    }
    out.push(rel!);
  }
  return out;
}

/** `NAME` passes the client's value (left out when unset there), `NAME=value` sets it. */
async function extraEnv(rc: RuleContext, t: Target): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const raw of stringListField(t, 'extra_env_vars')) {
    const eq = raw.indexOf('=');
    const name = eq < 0 ? raw : raw.slice(0, eq);
    if (!ENV_NAME.test(name)) {
      await inputError(rc, t, 'extra_env_vars', raw, 'bad-env-var', `\`extra_env_vars\` entry \`${raw}\` of ${t.address} is not \`NAME\` or \`NAME=value\``);
    }
    if (name === 'PATH') {
      await inputError(rc, t, 'extra_env_vars', raw, 'bad-env-var', `${t.address} cannot set PATH: in a sandbox it is the directory of its tools`, [
        'name the programs the command needs in `tools` (or `runnable_dependencies`)',
      ]);
    }
    if (eq < 0 && SESSION_VARIABLES.has(name)) {
      await inputError(rc, t, 'extra_env_vars', raw, 'bad-env-var', `${t.address} cannot pass ${name}: it describes the client's shell, not the build`, [
        `set it explicitly, \`${name}=value\`, if the command needs it`,
      ]);
    }
    const value = eq < 0 ? await rc.clientVar(name) : raw.slice(eq + 1);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * bash, which runs every command, and the `tools` of the target: found on
 * this machine (on a local environment's `executable_search_paths`, else
 * `[shell] executable_search_paths`), or, in a remote environment, on the
 * worker (workerTool) — never on this machine.
 */
export async function commandTools(rc: RuleContext, t: Target, env?: Environment): Promise<Tool[]> {
  const names = ['bash', ...stringListField(t, 'tools').filter((n) => n !== 'bash')];
  if (env?.kind === 'remote') {
    for (const n of names) {
      if (n === '' || n.includes('/') || n === '.' || n === '..') {
        await inputError(rc, t, 'tools', n, 'bad-tool-name', `\`${n}\` in \`tools\` of ${t.address} is not a program name`);
      }
    }
    return names.map((n) => workerTool(n, env.searchPaths));
  }
  return Promise.all(names.map((n) => resolveTool(rc, n, t, n === 'bash' ? 'command' : 'tools', localSearch(env))));
}

/** Where a local environment finds tools: its `executable_search_paths`, else `[shell] executable_search_paths`. */
function localSearch(env: Environment | undefined): SearchDirs | ToolSearch {
  return env?.kind === 'local' && env.searchPaths !== null ? { dirs: env.searchPaths, from: `\`executable_search_paths\` of ${env.address ?? env.name}` } : SHELL_SEARCH;
}

/** The `system_binary` targets of `runnable_dependencies`, as tools named after their targets. */
async function runnableTools(rc: RuleContext, t: Target, env?: Environment): Promise<Tool[]> {
  if (stringListField(t, 'runnable_dependencies').length === 0) return [];
  const addrs = await rc.addressField(t, 'runnable_dependencies');
  const targets = await rc.targets(addrs);
  return Promise.all(
    targets.map(async (dep) => {
      if (dep.type !== 'system_binary') {
        return inputError(rc, t, 'runnable_dependencies', undefined, 'not-runnable', `\`runnable_dependencies\` of ${t.address} names ${dep.address}, a \`${dep.type}\`; only \`system_binary\` targets can be put on the PATH`);
      }
      return systemBinaryTool(rc, dep, env);
    }),
  );
}

/** A system_binary's program: on this machine, or in a remote environment on the worker. */
async function systemBinaryTool(rc: RuleContext, dep: Target, env?: Environment): Promise<Tool> {
  if (env?.kind !== 'remote') return resolveSystemBinary(rc, dep);
  // Found on the worker like the tools; a fingerprint would have to run it there, so it is not checked.
  const binary = stringField(dep, 'binary_name') ?? '';
  if (binary === '' || binary.includes('/')) {
    return inputError(rc, dep, 'binary_name', undefined, 'bad-tool-name', `\`binary_name\` of ${dep.address} must be a program name, not \`${binary}\``);
  }
  const extra = stringListField(dep, 'extra_search_paths');
  const relative = extra.find((d) => !d.startsWith('/'));
  if (relative !== undefined) {
    return inputError(rc, dep, 'extra_search_paths', relative, 'bad-search-path', `\`extra_search_paths\` of ${dep.address} must hold absolute directories; \`${relative}\` is not one`);
  }
  return workerTool(binary, [...extra, ...env.searchPaths], dep.addr.name);
}

/** The targets whose contributions fill the sandbox: `execution_dependencies`, or `dependencies` when it is unset (as Pants). */
export async function executionRoots(rc: RuleContext, t: Target): Promise<readonly Address[]> {
  if (t.fields['execution_dependencies'] === null || t.fields['execution_dependencies'] === undefined) {
    return rc.get(new DeclaredDependenciesKey(rc.project, t.addr));
  }
  return rc.addressField(t, 'execution_dependencies');
}

/**
 * The sandboxed process of a command-like target: its input root is the
 * merged contributions of its execution dependencies plus the tool shims;
 * PATH is the tools directory (relative, made absolute by the shims); env
 * is only that and `extra_env_vars`.
 */
export async function prepareCommand(rc: RuleContext, t: Target, spec: CommandSpec): Promise<PreparedCommand> {
  const environment = await environmentOf(rc, t);
  const [workdir, tools, runnables, env, roots, outputFiles, outputDirectories, sandbox] = await Promise.all([
    workdirOf(rc, t),
    commandTools(rc, t, environment),
    runnableTools(rc, t, environment),
    extraEnv(rc, t),
    executionRoots(rc, t),
    checkedOutputs(rc, t, 'output_files', spec.outputFiles, false),
    checkedOutputs(rc, t, 'output_directories', spec.outputDirectories, true),
    isolationOf(rc, t),
  ]);
  // bwrap is found where the command's tools are.
  const hostSearchPath = sandbox.isolation === 'strict' && environment.kind === 'local' ? await toolSearchPath(rc, localSearch(environment)) : [];
  await checkNoCycleThroughTests(rc, t, roots, (x) => executionRoots(rc, x));
  const program = spec.program.kind === 'bash' ? tools[0]! : await systemBinaryTool(rc, spec.program.target, environment);
  const [inputs, shims] = await Promise.all([
    sandboxInputs(rc, [...roots, ...spec.extraInputs]),
    toolsTree(rc, t, [...tools, ...runnables, program]),
  ]);
  const inputRoot: Digest = await mergeTrees(rc.store, [inputs, shims], rc.signal);
  const toolsDir = posix.relative(workdir === '' ? '.' : workdir, TOOLS_DIR);
  // `bash -c 'node build.js out.txt'` is the node shim with those words, without bash (direct-command.ts).
  const direct =
    spec.program.kind === 'bash' && spec.args.length === 2 && spec.args[0] === '-c'
      ? directWords(spec.args[1]!, new Set([...tools, ...runnables].map((x) => x.name)), env)
      : undefined;
  const process = makeProcess({
    argv: direct !== undefined ? [`${toolsDir}/${direct[0]!}`, ...direct.slice(1)] : [`${toolsDir}/${program.name}`, ...spec.args],
    env: { ...env, PATH: toolsDir },
    inputRoot,
    workingDirectory: workdir,
    outputFiles,
    outputDirectories,
    timeoutMs: spec.timeoutS === null ? null : Math.round(spec.timeoutS * 1000),
    description: `Run ${t.type} ${t.address}`,
    cacheScope: spec.cacheScope,
    isolation: sandbox.isolation,
    network: sandbox.network,
    // The shims run these by absolute path: a strict sandbox shows their directories. A remote
    // environment's tools are names its worker resolves: nothing of this machine to show.
    hostSearchPath,
    ...(sandbox.isolation === 'strict' && environment.kind === 'local' ? { sourceRoot: rc.root } : {}),
    hostTools: environment.kind === 'remote' ? [] : [...tools, ...runnables, program].map((x) => x.path).filter((p) => p.startsWith('/')),
    declareHint: `declare it: add the target that owns it to \`${t.fields['execution_dependencies'] === null || t.fields['execution_dependencies'] === undefined ? 'dependencies' : 'execution_dependencies'}\` of ${t.address} (a file of its own directory: to the \`sources\` of a \`files\` or \`shell_sources\` target there)`,
    ...(environment.kind === 'remote' ? { platform: environment.platform, remoteEnvironment: environment.name } : {}),
  });
  return { process, workdir };
}
