import { constants } from 'node:fs';
import { access, lstat, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FailureError, failure } from '../core/index.js';
import type { Process } from './types.js';

/**
 * Strict isolation: the process runs under bubblewrap with a root file
 * system of its own, made of
 * - the system directories (/usr, and /bin, /lib… as they are here: links
 *   into /usr are links again), read-only;
 * - the few files of /etc that programs need to start, resolve names and
 *   check certificates (not /etc as a whole: shadow, ssh keys…), read-only;
 * - the directories of its tools (Process.hostTools), read-only;
 * - its sandbox directory, read-write, at the same path (paths in its
 *   output and its inputs stay true), and its local caches;
 * - the shared node_modules copies its sandbox links into, read-only;
 * - a fresh /dev, /proc (of a new PID namespace: nothing it starts
 *   outlives it) and a private, empty /tmp.
 * Nothing else: not the workspace, the home directory, the store, other
 * sandboxes. Every namespace is new (no network unless Process.network), it
 * dies with its bwrap (`--die-with-parent`), in a new session.
 */

/** Where bwrap is looked for when neither the process nor the runner names a search path: trews reads no environment in exec/ (Debian's package puts it in /usr/bin). */
export const DEFAULT_HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The system directories, bound read-only (or re-made as the links they are here). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/**
 * What of /etc a process may read: the dynamic linker's cache, users and
 * groups (id, whoami, node's os.userInfo), name resolution, time zone,
 * certificates, Debian's alternatives (/usr/bin/x → /etc/alternatives/x).
 */
const ETC_FILES = [
  'alternatives',
  'ca-certificates',
  'ca-certificates.conf',
  'group',
  'host.conf',
  'hosts',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'mime.types',
  'nsswitch.conf',
  'os-release',
  'passwd',
  'protocols',
  'resolv.conf',
  'services',
  'ssl',
  'timezone',
];

/** Paths a hidden-file report leaves out: the system's own, which a process probes all the time (glibc-hwcaps, ld.so.preload…). */
const SYSTEM_PREFIXES = [...SYSTEM_DIRS, '/etc', '/proc', '/dev', '/sys'];

/** Inside the sandbox, where `--sandbox-explain` has strace write (a file bound from the sandbox's own directory). */
export const TRACE_PATH = '/.trews-strace';

let systemBinds: Promise<readonly string[]> | undefined;

/** The bwrap arguments for the system directories and /etc, the same for every process: computed once. */
function systemArgs(): Promise<readonly string[]> {
  systemBinds ??= (async () => {
    const args: string[] = [];
    for (const d of SYSTEM_DIRS) {
      const st = await lstat(d).catch(() => undefined);
      if (st === undefined) continue;
      if (st.isSymbolicLink()) args.push('--symlink', await readlink(d), d);
      else if (st.isDirectory()) args.push('--ro-bind', d, d);
    }
    for (const f of ETC_FILES) args.push('--ro-bind-try', join('/etc', f), join('/etc', f));
    return args;
  })();
  return systemBinds;
}

/** The bwrap on `hostPath`, or an environment failure naming the package to install. */
export async function findBwrap(hostPath: string): Promise<string> {
  for (const dir of hostPath.split(':')) {
    if (!dir.startsWith('/')) continue;
    const p = join(dir, 'bwrap');
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new FailureError(
    failure('environment', 'bwrap-not-found', `strict sandboxes need bubblewrap (\`bwrap\`), which is not on the search path`, {
      notes: [`searched: ${hostPath.split(':').filter((d) => d !== '').join(', ') || '(no directories)'}`],
      hints: [
        'install it (Debian and Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`), or add its directory to the search path the target\'s tools are found on (`[shell] executable_search_paths`, `[nodejs] search_path`)',
        'or run without strict isolation: `[sandbox] isolation = "none"` (or `sandbox_isolation="none"` on the target)',
      ],
    }),
  );
}

/** strace for `--sandbox-explain`, or an environment failure naming the package. */
export async function findStrace(hostPath: string): Promise<string> {
  for (const dir of hostPath.split(':')) {
    if (!dir.startsWith('/')) continue;
    const p = join(dir, 'strace');
    // Run inside the sandbox, where only the system directories are: by its real path (a link on the search path may lead there).
    if (await access(p, constants.X_OK).then(() => true, () => false)) return realpath(p);
  }
  throw new FailureError(
    failure('environment', 'strace-not-found', `--sandbox-explain traces processes with strace, which is not on ${hostPath}`, {
      hints: ['install it (Debian and Ubuntu: `apt-get install strace`), or run without --sandbox-explain'],
    }),
  );
}

export interface StrictLayout {
  /** The sandbox's input root (bound read-write at its own path). */
  readonly root: string;
  readonly workDir: string;
  /** The host file strace writes to, when explaining. */
  readonly traceFile?: string;
  /** The shared read-only materializations (store/shared-trees.ts) the sandbox's links point into. */
  readonly sharedDirs?: readonly string[];
}

/** bwrap's arguments up to (not including) the program. */
export async function bwrapArgs(proc: Process, layout: StrictLayout): Promise<string[]> {
  const args = [...(await systemArgs())];
  const system = (p: string): boolean => SYSTEM_DIRS.some((d) => p === d || p.startsWith(`${d}/`));
  // At once, not one after another: a script's sandbox names some 35 tools, and each look is a thread-pool round trip.
  const dirsOf = async (t: string): Promise<string[]> => {
    // A directory (a package manager's installed package) is shown whole; a program, by its directory and its real one's.
    const [st, real] = await Promise.all([stat(t).catch(() => undefined), realpath(t).catch(() => undefined)]);
    if (st?.isDirectory() === true) return [t];
    return real !== undefined ? [dirname(t), dirname(real)] : [dirname(t)];
  };
  const toolDirs = new Set((await Promise.all((proc.hostTools ?? []).map(dirsOf))).flat());
  // The private /tmp first: a tool (or the sandbox) under /tmp is bound on top of it, not hidden by it.
  args.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
  for (const d of [...toolDirs].sort()) if (!system(d)) args.push('--ro-bind-try', d, d);
  args.push('--bind', layout.root, layout.root);
  // The shared node_modules copies its links lead into: each one whole, read-only (a write is EROFS, not a damaged copy).
  for (const d of layout.sharedDirs ?? []) args.push('--ro-bind', d, d);
  for (const c of proc.localCaches ?? []) args.push('--bind', c.hostDir, c.hostDir);
  if (layout.traceFile !== undefined) args.push('--bind', layout.traceFile, TRACE_PATH);
  // The skeleton bwrap made for the mount points (the sandbox's parent directories…) is read-only too.
  args.push('--remount-ro', '/', '--chdir', layout.workDir, '--unshare-all');
  if (proc.network === true) args.push('--share-net');
  args.push('--die-with-parent', '--new-session', '--');
  return args;
}

/** What stderr says a process could not find: node, bash, sh, cat, python and most of coreutils. */
const ENOENT_PATTERNS = [
  /ENOENT: no such file or directory, \w+ '([^'\n]+)'/g,
  /(?:^|[\s:'"`])(\/[^\s:'"`\n]+)['"`]?: No such file or directory/gm,
  /can(?:no|')t open (?:file )?'?(\/[^\s:'"`\n]+)'?/g,
  /No such file or directory: '(\/[^'\n]+)'/g,
];

/** Absolute paths that `stderr` reports missing, in order, without duplicates. */
export function enoentPaths(stderr: string): string[] {
  const found: Array<{ at: number; path: string }> = [];
  for (const re of ENOENT_PATTERNS) for (const m of stderr.matchAll(re)) if (m[1] !== undefined) found.push({ at: m.index, path: m[1] });
  return [...new Set(found.sort((a, b) => a.at - b.at).map((f) => f.path))];
}

/** Paths that file system calls in an `strace -f -e trace=file` log failed on with ENOENT. */
export function tracedMissingPaths(trace: string): string[] {
  const out = new Set<string>();
  for (const m of trace.matchAll(/^(?:\d+\s+)?\w+\((?:AT_FDCWD, |-?\d+, )?"((?:[^"\\]|\\.)*)".*= -1 ENOENT/gm)) {
    const p = m[1]!.replace(/\\(.)/g, '$1');
    if (p.startsWith('/')) out.add(p);
  }
  return [...out];
}

/**
 * Of the paths a process found missing, those the sandbox hid: outside its
 * sandbox and the system directories, and present on this machine (a path
 * missing here too is the process's own problem, isolation or not).
 */
export async function hiddenPaths(paths: readonly string[], root: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p === root || p.startsWith(`${root}/`) || p === TRACE_PATH) continue;
    if (SYSTEM_PREFIXES.some((d) => p === d || p.startsWith(`${d}/`))) continue;
    if (await lstat(p).then(() => true, () => false)) out.push(p);
  }
  return out;
}

/**
 * Of the paths a process found missing inside its sandbox's input root,
 * those `sourceRoot` (the build root the input root mirrors) has: read by a
 * path relative to the sandbox (`../../secret.txt`), they are inputs it did
 * not declare. Named at their place in the build root.
 */
export async function mirroredPaths(paths: readonly string[], root: string, sourceRoot: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (!p.startsWith(`${root}/`)) continue;
    const rel = p.slice(root.length + 1);
    if (rel.split('/').includes('..') || (await lstat(p).then(() => true, () => false))) continue;
    const there = join(sourceRoot, rel);
    if (await lstat(there).then((st) => st.isFile(), () => false)) out.push(there);
  }
  return out;
}

/** The failure of a strict process that tried to read files its sandbox hides. */
export function undeclaredInputFailure(proc: Process, hidden: readonly string[], explained: boolean, stderrTail: string): FailureError {
  const first = hidden[0]!;
  const more = hidden.length > 1 ? ` (and ${hidden.length - 1} more file${hidden.length > 2 ? 's' : ''})` : '';
  const hints = [
    proc.declareHint ?? 'declare it as an input of the process (in the sources or dependencies of its target)',
    'files outside the build root (the home directory, /tmp, /opt…) cannot be inputs: copy what the process needs into the workspace and declare it, or name the program in `tools`',
    'or let this target see the whole machine, `sandbox_isolation="none"` (its cached results then depend on files no input names)',
  ];
  if (!explained) hints.push('run again with --sandbox-explain to trace every file it tried to open');
  return new FailureError(
    failure(
      'environment',
      'sandbox-undeclared-input',
      `process \`${proc.description}\` tried to read \`${first}\`${more}, which is not among its inputs: a strict sandbox shows it only its inputs, its tools and the system directories`,
      {
        hints,
        notes: [...hidden.slice(1, 10).map((h) => `also hidden: \`${h}\``), ...stderrTail.split('\n').filter((l) => l !== '').map((l) => `stderr: ${l}`)],
      },
    ),
  );
}
