import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { digestOf, digestString, failure, FailureError, isFailureError, type Digest, type Location } from '../../core/index.js';
import type { ComputeContext, Key, KeyRebuilder } from '../../engine/index.js';
import { workDirOf } from '../../fs/index.js';
import { treeFromBytes } from '../../store/index.js';
import { formatAddress, stringField, stringListField, targetAt, type Address, type Target } from '../../targets/index.js';
import { RuleContext, type RuleEnv } from './rule-context.js';
import { toolDigestsFor } from './tool-digests.js';

/**
 * Tools: programs from this machine that a sandboxed process may run.
 *
 * Each is found on a search path and appears in the sandbox as a shim in
 * `.trews-tools/` (on the process's PATH), a small /bin/sh script that
 * execs the real program by absolute path. Shims rather than symlinks
 * because the sandbox refuses symlinks that lead out of it, and because the
 * shim's text can carry what identifies the program — its content digest,
 * or a system_binary's fingerprint — so that text, hence the input root,
 * hence the action digest, changes when the program does.
 */
export const TOOLS_DIR = '.trews-tools';

export interface Tool {
  /** Its name on the sandbox PATH. */
  readonly name: string;
  /** Where it is on this machine, as found on the search path (symlinks kept, as execvp would). */
  readonly path: string;
  /** What identifies this program's behaviour in the cache key. */
  readonly identity: string;
  /**
   * Set for a tool of a remote environment: it is looked up by name on
   * these directories of the worker when the process starts (`path` is then
   * just the name), so nothing of this machine enters the action.
   */
  readonly searchOnWorker?: readonly string[];
}

/**
 * A tool of a remote environment: found on the worker, by name, on the
 * environment's `executable_search_paths`. Its identity is that search:
 * what the program is on the worker is the environment's to pin (its
 * platform properties, e.g. a container image).
 */
export function workerTool(name: string, dirs: readonly string[], as: string = name): Tool {
  return { name: as, path: name, identity: `worker search ${dirs.join(':')}`, searchOnWorker: [...dirs] };
}

/** Search directories that replace a ToolSearch option: a local environment's `executable_search_paths`. */
export interface SearchDirs {
  readonly dirs: readonly string[];
  /** Where they come from, for messages: `executable_search_paths of //envs:local`. */
  readonly from: string;
}

export const SHELL_SCOPE = 'shell';
export const SYSTEM_BINARIES_SCOPE = 'system-binaries';
export const PATH_TOKEN = '<PATH>';

/** `<PATH>` expanded to the client's PATH; relative entries dropped (a sandbox has no meaningful cwd for them); duplicates dropped. */
export function expandSearchPaths(configured: readonly string[], clientEnv: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const e of configured) {
    const entries = e === PATH_TOKEN ? (clientEnv['PATH'] ?? '').split(':') : [e];
    for (const d of entries) if (d !== '' && isAbsolute(d) && !out.includes(d)) out.push(d);
  }
  return out;
}

function describeSearch(scope: string, option: string, configured: readonly string[]): string {
  const via = configured.includes(PATH_TOKEN) ? `, with ${PATH_TOKEN} from the environment of the trews client` : '';
  return `[${scope}] ${option} = [${configured.map((c) => JSON.stringify(c)).join(', ')}]${via}`;
}

/**
 * The first executable regular file called `name` in `dirs`. Synchronous:
 * every run looks its tools up again (ToolLookupKey is transient), and a
 * stat per directory through the thread pool, one after the other, was most
 * of a fully cached run's wait on a loaded machine (~1 µs each this way).
 */
export async function findExecutable(name: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const d of dirs) {
    const candidate = join(d, name);
    try {
      const st = statSync(candidate, { throwIfNoEntry: false });
      if (st === undefined || !st.isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not executable (or unreadable): keep looking, as execvp does
    }
  }
  return undefined;
}

/**
 * Where a tool is looked up: the option holding the search path (with
 * `<PATH>`), e.g. `[shell] executable_search_paths`. Each backend names
 * its own, so a Node.js tool and a shell tool can be found differently.
 */
export interface ToolSearch {
  readonly scope: string;
  readonly option: string;
}

/** The shell's search path, which bash (running every command) and `tools` use. */
export const SHELL_SEARCH: ToolSearch = { scope: SHELL_SCOPE, option: 'executable_search_paths' };

const TOOL_LOOKUP = 'tool-lookup:';
const TOOL_DIGEST = 'tool-digest:';
const SYSTEM_BINARY = 'system-binary:';

/**
 * The first executable called `name` on `dirs`. Programs outside the
 * workspace are seen by no watcher, so the lookup is transient: every run
 * looks again (a stat per directory), and what depended on it re-validates
 * only if the answer changed.
 */
class ToolLookupKey implements Key<string | undefined> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #name: string;
  readonly #dirs: readonly string[];

  constructor(name: string, dirs: readonly string[]) {
    this.#name = name;
    this.#dirs = dirs;
    // JSON, not joined: the id must name one list of directories (toolKeyRebuilders reads it back).
    this.id = `${TOOL_LOOKUP}${JSON.stringify([name, dirs])}`;
  }

  describe(): string {
    return `tool ${this.#name}`;
  }

  compute(): Promise<string | undefined> {
    return findExecutable(this.#name, this.#dirs);
  }

  isTransient(): boolean {
    return true;
  }

  /**
   * Each directory's candidate up to the one found: what findExecutable
   * stats (and, as the same user, its mode answers access()). With each
   * directory: a candidate made or removed while the run looked moves its
   * directory, so the proof is not taken while that is racy.
   */
  replayProof(found: string | undefined): Promise<readonly string[]> {
    const proof: string[] = [];
    for (const d of this.#dirs) {
      const candidate = join(d, this.#name);
      proof.push(d, candidate);
      if (candidate === found) break;
    }
    return Promise.resolve(proof);
  }
}

/**
 * The content digest of a program outside the workspace, recomputed every
 * run (transient, as for lookups); ToolDigests spares re-reading it while
 * its stat is unchanged.
 */
class ToolDigestKey implements Key<Digest> {
  readonly id: string;
  readonly #workDir: string;
  readonly #path: string;

  constructor(workDir: string, path: string) {
    this.#workDir = workDir;
    this.#path = path;
    this.id = `${TOOL_DIGEST}${path}`;
  }

  describe(): string {
    return `the digest of ${this.#path}`;
  }

  compute(_ctx: ComputeContext, signal: AbortSignal): Promise<Digest> {
    return toolDigestsFor(this.#workDir).digest(this.#path, signal);
  }

  isTransient(): boolean {
    return true;
  }

  /** The program itself: its stat, through its links, is the file the digest was read from. */
  replayProof(): Promise<readonly string[]> {
    return Promise.resolve([this.#path]);
  }
}

/**
 * How the transient keys of this file come back from their id, for a graph
 * a process without a daemon kept (Engine.importGraph): they recompute every
 * run, so they must come back with their compute, or everything that
 * re-validates through them (every process that runs a tool) recomputes.
 */
export function toolKeyRebuilders(renv: RuleEnv): KeyRebuilder[] {
  return [
    {
      kind: TOOL_LOOKUP,
      rebuild: (id) => {
        const parts = jsonOf(id.slice(TOOL_LOOKUP.length));
        if (!Array.isArray(parts) || parts.length !== 2) return undefined;
        const [name, dirs] = parts as unknown[];
        if (typeof name !== 'string' || !Array.isArray(dirs) || !dirs.every((d) => typeof d === 'string')) return undefined;
        return new ToolLookupKey(name, dirs as string[]);
      },
    },
    { kind: TOOL_DIGEST, rebuild: (id) => new ToolDigestKey(workDirOf(renv.project.ws.root), id.slice(TOOL_DIGEST.length)) },
    {
      kind: SYSTEM_BINARY,
      rebuild: (id) => {
        const parts = jsonOf(id.slice(SYSTEM_BINARY.length));
        if (!Array.isArray(parts) || parts.length !== 3) return undefined;
        const [dir, name, file] = parts as unknown[];
        if (typeof dir !== 'string' || typeof name !== 'string' || (file !== null && typeof file !== 'string')) return undefined;
        return new SystemBinaryKey(renv, file === null ? { dir, name } : { dir, name, file });
      },
    },
  ];
}

function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The directories of a search-path option, `<PATH>` expanded from the client's PATH. */
async function searchDirs(rc: RuleContext, configured: readonly string[]): Promise<string[]> {
  const path = configured.includes(PATH_TOKEN) ? await rc.clientVar('PATH') : undefined;
  return expandSearchPaths(configured, path === undefined ? {} : { PATH: path });
}

/**
 * The directories tools are found in for `search` (`<PATH>` expanded from
 * the client's PATH): where a strict sandbox's runner looks for bwrap and
 * strace (`Process.hostSearchPath`), so they are found as the process's
 * own tools are, never on trews' own environment.
 */
export async function toolSearchPath(rc: RuleContext, search: ToolSearch | SearchDirs): Promise<string[]> {
  return searchDirs(rc, 'dirs' in search ? search.dirs : (await rc.options(search.scope)).list(search.option));
}

/**
 * A tool named in `field` of `t` (or bash, which runs every command), found
 * on the search path of `search`. A tool that is not found is an error
 * naming the tool, the target, the field entry and the directories searched.
 */
export async function resolveTool(rc: RuleContext, name: string, t: Target, field: string, search: ToolSearch | SearchDirs = SHELL_SEARCH): Promise<Tool> {
  const location = (): Promise<Location> => rc.fieldLocation(t, field, field === 'tools' ? name : undefined);
  const configured = 'dirs' in search ? search.dirs : (await rc.options(search.scope)).list(search.option);
  if (name === '' || name.includes('/') || name === '.' || name === '..') {
    throw new FailureError(
      failure('input', 'bad-tool-name', `\`${name}\` in \`${field}\` of ${t.address} is not a program name`, {
        location: await location(),
        hints: [`name programs as they are called (\`node\`, \`cat\`); they are looked up on ${'dirs' in search ? search.from : `\`[${search.scope}] ${search.option}\``}`],
      }),
    );
  }
  const searched = await searchDirs(rc, configured);
  const path = await rc.get(new ToolLookupKey(name, searched));
  if (path === undefined) {
    const why = field === 'tools' ? `in \`tools\` of ${t.address}` : `which runs the command of ${t.address}`;
    const from = 'dirs' in search ? search.from : describeSearch(search.scope, search.option, configured);
    const option = 'dirs' in search ? search.from : `\`[${search.scope}] ${search.option}\` in trews.toml`;
    throw new FailureError(
      failure('environment', 'tool-not-found', `cannot find the tool \`${name}\` (${why})`, {
        location: await location(),
        notes: [`searched: ${searched.length > 0 ? searched.join(', ') : '(no directories)'}`, `(from ${from})`],
        hints: [`install \`${name}\`, or add the directory that holds it to ${option}`],
      }),
    );
  }
  const digest = await rc.get(new ToolDigestKey(workDirOf(rc.root), path));
  return { name, path, identity: `sha256 ${digestString(digest)}` };
}

/**
 * A program found on the search path of `search`, for a rule that has no
 * target field naming it (a package manager the workspace needs): `why`
 * says what needs it, `location` where the error points. Undefined when
 * `optional` and not found; otherwise not finding it is an error naming
 * the directories searched.
 */
export async function lookupTool(
  rc: RuleContext,
  name: string,
  search: ToolSearch,
  why: string,
  location: Location | undefined,
  optional = false,
): Promise<Tool | undefined> {
  const configured = (await rc.options(search.scope)).list(search.option);
  const searched = await searchDirs(rc, configured);
  const path = await rc.get(new ToolLookupKey(name, searched));
  if (path === undefined) {
    if (optional) return undefined;
    throw new FailureError(
      failure('environment', 'tool-not-found', `cannot find the tool \`${name}\` (${why})`, {
        ...(location ? { location } : {}),
        notes: [`searched: ${searched.length > 0 ? searched.join(', ') : '(no directories)'}`, `(from ${describeSearch(search.scope, search.option, configured)})`],
        hints: [`install \`${name}\`, or add the directory that holds it to \`[${search.scope}] ${search.option}\` in trews.toml`],
      }),
    );
  }
  const digest = await rc.get(new ToolDigestKey(workDirOf(rc.root), path));
  return { name, path, identity: `sha256 ${digestString(digest)}` };
}

/**
 * The program a `system_binary` names: the first `binary_name` on
 * `extra_search_paths` then `[system-binaries] system_binary_paths` (whose
 * output matches `fingerprint`, when set). Its identity is the fingerprint
 * output when there is a fingerprint, else its content digest. Put on a
 * sandbox PATH under the target's name, as Pants does.
 */
export function resolveSystemBinary(rc: RuleContext, t: Target): Promise<Tool> {
  return rc.get(new SystemBinaryKey(rc.ruleEnv, t.addr));
}

/**
 * A system_binary's program, found again every run (transient: the machine
 * is no input any watcher sees); fingerprints and digests are remembered
 * by their files' stat in ToolDigests.
 */
class SystemBinaryKey implements Key<Tool> {
  readonly id: string;
  readonly #renv: RuleEnv;
  readonly #addr: Address;

  constructor(renv: RuleEnv, addr: Address) {
    this.#renv = renv;
    this.#addr = addr;
    // JSON of the parts, not the formatted address (`a/b.txt:x` could be two addresses): toolKeyRebuilders reads it back.
    this.id = `${SYSTEM_BINARY}${JSON.stringify([addr.dir, addr.name, addr.file ?? null])}`;
  }

  describe(): string {
    return formatAddress(this.#addr);
  }

  isTransient(): boolean {
    return true;
  }

  async compute(ctx: ComputeContext, signal: AbortSignal): Promise<Tool> {
    const rc = new RuleContext(ctx, this.#renv, signal);
    const t = await targetAt(ctx, this.#renv.project, this.#addr);
    const binary = stringField(t, 'binary_name') ?? '';
    const fingerprint = stringField(t, 'fingerprint');
    const args = stringListField(t, 'fingerprint_args');
    const configured = (await rc.options(SYSTEM_BINARIES_SCOPE)).list('system_binary_paths');
    const extra = stringListField(t, 'extra_search_paths');
    const badExtra = extra.find((d) => !isAbsolute(d));
    if (badExtra !== undefined) {
      throw new FailureError(
        failure('input', 'bad-search-path', `\`extra_search_paths\` of ${t.address} must hold absolute directories; \`${badExtra}\` is not one`, {
          location: await rc.fieldLocation(t, 'extra_search_paths', badExtra),
        }),
      );
    }
    if (binary === '' || binary.includes('/')) {
      throw new FailureError(
        failure('input', 'bad-tool-name', `\`binary_name\` of ${t.address} must be a program name, not \`${binary}\``, {
          location: await rc.fieldLocation(t, 'binary_name'),
        }),
      );
    }
    let regex: RegExp | undefined;
    if (fingerprint !== null) {
      try {
        regex = new RegExp(fingerprint);
      } catch (e) {
        throw new FailureError(
          failure('input', 'bad-fingerprint', `\`fingerprint\` of ${t.address} is not a valid regular expression: ${(e as Error).message}`, {
            location: await rc.fieldLocation(t, 'fingerprint'),
          }),
        );
      }
    }
    const dirs = await searchDirs(rc, [...extra, ...configured]);
    const rejected: string[] = [];
    const digests = toolDigestsFor(workDirOf(rc.root));
    for (const d of dirs) {
      const path = await findExecutable(binary, [d]);
      if (path === undefined) continue;
      if (regex === undefined) {
        const digest = await digests.digest(path, rc.signal);
        return { name: t.addr.name, path, identity: `sha256 ${digestString(digest)}` };
      }
      let output: string;
      try {
        output = await digests.fingerprint(path, args, { PATH: dirs.join(':') }, rc.signal);
      } catch (e) {
        // A candidate that cannot even run is not the one (Pants skips it too).
        if (!isFailureError(e)) throw e;
        rejected.push(`${path} could not be run: ${e.failure.message}`);
        continue;
      }
      if (regex.test(output)) {
        return { name: t.addr.name, path, identity: `fingerprint ${digestString(digestOf(output))}` };
      }
      rejected.push(`${path} printed ${JSON.stringify(output.trim().split('\n')[0] ?? '')}, which does not match /${fingerprint ?? ''}/`);
    }
    const notes = [
      `searched: ${dirs.length > 0 ? dirs.join(', ') : '(no directories)'}`,
      `(from \`extra_search_paths\` and ${describeSearch(SYSTEM_BINARIES_SCOPE, 'system_binary_paths', configured)})`,
      ...rejected.map((r) => `rejected: ${r}`),
    ];
    throw new FailureError(
      failure('environment', 'binary-not-found', `cannot find \`${binary}\`${regex ? ' matching its `fingerprint`' : ''} for ${t.address}`, {
        location: await rc.fieldLocation(t, 'binary_name'),
        notes,
        hints: [`install \`${binary}\`, or add its directory to \`extra_search_paths\` or \`[system-binaries] system_binary_paths\``],
      }),
    );
  }
}

/** The shim for a tool: execs it by absolute path, with PATH made absolute first (see README.md). */
export function shimText(tool: Tool): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  if (tool.searchOnWorker !== undefined) {
    const dirs = tool.searchOnWorker;
    return [
      '#!/bin/sh',
      `# trews tool \`${tool.name}\`: \`${tool.path}\`, found where this runs, on ${dirs.join(':')} (a remote environment's executable_search_paths)`,
      '# A relative PATH (as the process starts with) is made absolute, so it survives a cd.',
      'case $PATH in /*) ;; *) PATH=$(cd -- "${0%/*}" && pwd -P) || exit 127; export PATH ;; esac',
      `for d in ${dirs.map(q).join(' ')}; do`,
      `  if [ -f "$d"/${q(tool.path)} ] && [ -x "$d"/${q(tool.path)} ]; then exec "$d"/${q(tool.path)} "$@"; fi`,
      'done',
      `echo ${q(`trews: cannot find the tool \`${tool.path}\` on this worker: searched ${dirs.join(', ')} (executable_search_paths of the remote environment)`)} >&2`,
      'exit 127',
      '',
    ].join('\n');
  }
  return [
    '#!/bin/sh',
    `# trews tool \`${tool.name}\`: ${tool.path} (${tool.identity})`,
    '# A relative PATH (as the process starts with) is made absolute, so it survives a cd.',
    'case $PATH in /*) ;; *) PATH=$(cd -- "${0%/*}" && pwd -P) || exit 127; export PATH ;; esac',
    `exec ${q(tool.path)} "$@"`,
    '',
  ].join('\n');
}

/**
 * The `.trews-tools/` tree holding a shim per tool. Two different programs
 * under one name (a tool and a system_binary target of that name) are an error.
 */
export async function toolsTree(rc: RuleContext, t: Target, tools: readonly Tool[]): Promise<Digest> {
  const byName = new Map<string, Tool>();
  for (const tool of tools) {
    const prev = byName.get(tool.name);
    if (prev !== undefined && (prev.path !== tool.path || prev.identity !== tool.identity)) {
      throw new FailureError(
        failure('input', 'tool-name-clash', `two programs are called \`${tool.name}\` on the PATH of ${t.address}: ${prev.path} and ${tool.path}`, {
          location: { file: t.buildFile, line: t.line, col: t.col },
          hints: ['rename the system_binary target, or drop the name from `tools`'],
        }),
      );
    }
    byName.set(tool.name, tool);
  }
  return treeFromBytes(
    rc.store,
    [...byName.values()].map((tool) => ({ path: `${TOOLS_DIR}/${tool.name}`, content: shimText(tool), isExecutable: true })),
    rc.signal,
  );
}
