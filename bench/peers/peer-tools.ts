// The build tools compared on a generated peers repo, each as its users run
// it, and each able to say, in its own words, what a run did:
// - bazel: `bazel build //...` / `bazel test //...` / `bazel query //...`,
//   genrules with a disk cache (the repo's .bazelrc); the Bazel server stays up
//   between runs, as it does for its users;
// - turbo: `turbo run build|test`, `turbo ls` (telemetry and update checks
//   off); it runs each package's script with `npm run`;
// - nx: `nx run-many -t build|test`, `nx show projects`, with the Nx daemon
//   (NX_DAEMON=true: its default on a developer's machine; Nx turns it off by
//   itself in CI and inside Docker, which this VM is) and Nx Cloud off;
// - trews: `trews package ::` (the archive of all outputs), `trews test ::`,
//   `trews list ::`, through its daemon (the default) and with `--no-daemon`
//   (how CI runs it). Both share one local store, as one user's runs would.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Availability, Invocation, Outcome, Tool } from './bench-runner.js';
import { CheckFailed } from './bench-runner.js';
import { CACHE_DIR, outputOf, packageDir, type PeersRepo } from './generate-peers-repo.js';

/** What a build or test run did, as the tool reports it. */
export interface Tally {
  /** Processes or tasks that really ran (not served from any cache). */
  readonly ran: number;
  /** Served from a cache (local, disk, memoized). */
  readonly cached: number;
  /** The tool's own line(s) the figures come from. */
  readonly words: string;
}

export type Kind = 'build' | 'test';

export interface PeerCommands {
  readonly query: Invocation;
  /** Builds every package's output ("build everything"). */
  readonly build: Invocation;
  /** Runs every package's test (and the builds they need). */
  readonly test: Invocation;
  /** How many of the repo's packages the graph query listed. */
  listed(o: Outcome): number;
  tally(o: Outcome, kind: Kind): Tally;
  /** Each package's build output where this tool leaves it (undefined when missing). */
  outputs(): Array<string | undefined>;
  deleteOutputs(): void;
  /** Every cache and every bit of daemon state of the tool gone: the next run is cold. */
  clearCaches(): void;
  /** Stops the tool's background processes (daemon, server), if any. */
  stop(): void;
  /** Resident memory of the tool's daemon in MiB (undefined: not running); only for the tools measured so. */
  daemonRssMiB?(): number | undefined;
  /** Forgets what the tool keeps between runs to answer the graph query (trews without a daemon: its kept graph); only for the tools measured so. */
  forgetGraph?(): void;
}

export type PeerTool = Tool<PeerCommands>;

export const THIS_TREWS_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The environment every tool starts from: this one, minus what would put a tool in CI mode or carry someone's settings. */
export function baseEnv(): Record<string, string> {
  const drop = /^(CI|CONTINUOUS_INTEGRATION|BUILD_NUMBER|RUN_ID|GITHUB_ACTIONS|GITLAB_CI|BUILDKITE|CIRCLECI|TRAVIS|JENKINS_URL|TF_BUILD|TREWS_.*|NX_.*|TURBO_.*)$/;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !drop.test(k)) env[k] = v;
  return env;
}

export function sh(argv: readonly string[], cwd: string, env: Record<string, string> = baseEnv()): { status: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.error ? null : r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function must(argv: readonly string[], cwd: string, env?: Record<string, string>): void {
  const r = sh(argv, cwd, env);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.status}): ${r.out.trim().split('\n').slice(-5).join('\n')}`);
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function rssMiB(pid: number): number | undefined {
  const status = readOrUndefined(`/proc/${pid}/status`);
  const kib = status === undefined ? undefined : /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return kib === undefined ? undefined : Number(kib) / 1024;
}

function workspaceOutputs(repo: PeersRepo): Array<string | undefined> {
  return Array.from({ length: repo.packages }, (_, i) => readOrUndefined(join(repo.root, packageDir(i), outputOf(i))));
}

function deleteWorkspaceOutputs(repo: PeersRepo): void {
  for (let i = 0; i < repo.packages; i++) rmSync(join(repo.root, packageDir(i), 'out'), { recursive: true, force: true });
}

export function count(re: RegExp, text: string): number {
  return [...text.matchAll(re)].length;
}

export function noTally(kind: Kind, o: Outcome, what: string): never {
  throw new CheckFailed(`no ${what} in the ${kind} output:\n${(o.stdout + o.stderr).trimEnd().split('\n').slice(-10).join('\n')}`);
}

/** The version of a package installed at the repo's root. */
export function packageVersion(repo: { readonly root: string }, name: string): string | undefined {
  const text = readOrUndefined(join(repo.root, 'node_modules', name, 'package.json'));
  return text === undefined ? undefined : (JSON.parse(text) as { version: string }).version;
}

export function bazelTool(repo: PeersRepo): PeerTool {
  const env = baseEnv();
  const inv = (...args: string[]): Invocation => ({ argv: ['bazel', ...args], cwd: repo.root, env });
  return {
    name: 'Bazel',
    available(): Availability {
      const r = sh(['bazel', '--version'], repo.root, env);
      if (r.status === null) return { ok: false, why: 'bazel is not on PATH' };
      let version = r.out.trim();
      // Debian's bazel-bootstrap says `bazel no_version`; its package knows.
      if (/no_version/.test(version)) {
        const deb = sh(['dpkg-query', '-W', '-f', '${Version}', 'bazel-bootstrap'], repo.root, env);
        if (deb.status === 0) version = `bazel ${deb.out.trim()} (Debian bazel-bootstrap)`;
      }
      return { ok: true, version };
    },
    commands: {
      query: inv('query', '//...'),
      build: inv('build', '//...'),
      test: inv('test', '//...'),
      listed: (o) => count(/^\/\/packages\/p\d+:build$/gm, o.stdout),
      tally(o, kind) {
        const text = o.stdout + o.stderr;
        if (kind === 'test') {
          const m = /Executed (\d+) out of (\d+) tests?: .*/.exec(text) ?? noTally(kind, o, '"Executed N out of M tests" line');
          return { ran: Number(m[1]), cached: Number(m[2]) - Number(m[1]), words: m[0] };
        }
        // `INFO: 21 processes: 20 remote cache hit, 1 internal.` (the disk cache counts as a remote cache).
        const m = /INFO: (\d+) process(?:es)?(?:: ([^\n]*))?\./.exec(text) ?? noTally(kind, o, '"INFO: N processes" line');
        let ran = 0;
        let cached = 0;
        for (const part of (m[2] ?? '').split(', ').filter(Boolean)) {
          const [, n, how] = /^(\d+) (.*)$/.exec(part) ?? [];
          if (how === undefined) continue;
          if (/cache hit/.test(how)) cached += Number(n);
          else if (how !== 'internal') ran += Number(n);
        }
        return { ran, cached, words: m[0].replace(/^INFO: /, '') };
      },
      outputs: () => Array.from({ length: repo.packages }, (_, i) => readOrUndefined(join(repo.root, 'bazel-bin', packageDir(i), outputOf(i)))),
      deleteOutputs() {
        for (let i = 0; i < repo.packages; i++) rmSync(join(repo.root, 'bazel-bin', packageDir(i), outputOf(i)), { force: true });
      },
      clearCaches() {
        // --expunge: the output base with its action cache, and the server with its in-memory graph.
        must(['bazel', 'clean', '--expunge'], repo.root, env);
        rmSync(join(repo.root, CACHE_DIR, 'bazel-disk-cache'), { recursive: true, force: true });
      },
      stop: () => void sh(['bazel', 'shutdown'], repo.root, env),
    },
  };
}

/** Turborepo's environment: no telemetry, no update checks. */
export function turboEnv(): Record<string, string> {
  return { ...baseEnv(), TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' };
}

export function turboAvailable(repo: { readonly root: string }, bin: string): Availability {
  const version = packageVersion(repo, 'turbo');
  return version !== undefined && existsSync(bin) ? { ok: true, version: `turbo ${version}` } : { ok: false, why: 'turbo is not installed in the generated repo (did npm install fail?)' };
}

/** From turbo's `Tasks: 3 successful, 3 total` and `Cached: 1 cached, 3 total`. */
export function turboTally(o: Outcome, kind: Kind): Tally {
  const text = o.stdout + o.stderr;
  const tasks = /Tasks:\s+(\d+) successful, (\d+) total/.exec(text) ?? noTally(kind, o, '"Tasks:" line');
  const cached = /Cached:\s+(\d+) cached, (\d+) total/.exec(text) ?? noTally(kind, o, '"Cached:" line');
  return { ran: Number(cached[2]) - Number(cached[1]), cached: Number(cached[1]), words: `Tasks: ${tasks[1]} successful, ${tasks[2]} total; Cached: ${cached[1]} cached, ${cached[2]} total` };
}

/** From Nx's `Cache:             20/40 hit (50%)`. */
export function nxTally(o: Outcome, kind: Kind): Tally {
  const m = /Cache:\s+(\d+)\/(\d+) hit[^\n]*/.exec(o.stdout + o.stderr) ?? noTally(kind, o, '"Cache: H/T hit" line');
  return { ran: Number(m[2]) - Number(m[1]), cached: Number(m[1]), words: m[0].replace(/\s+/g, ' ') };
}

export function nxAvailable(repo: { readonly root: string }, bin: string, daemon: boolean): Availability {
  const version = packageVersion(repo, 'nx');
  return version !== undefined && existsSync(bin)
    ? { ok: true, version: `nx ${version}, ${daemon ? 'with its daemon (NX_DAEMON=true)' : 'without its daemon (NX_DAEMON=false)'}` }
    : { ok: false, why: 'nx is not installed in the generated repo (did npm install fail?)' };
}

export function turboTool(repo: PeersRepo): PeerTool {
  const env = turboEnv();
  const bin = join(repo.root, 'node_modules', '.bin', 'turbo');
  const inv = (...args: string[]): Invocation => ({ argv: [bin, ...args], cwd: repo.root, env });
  return {
    name: 'Turborepo',
    available: () => turboAvailable(repo, bin),
    commands: {
      query: inv('ls'),
      build: inv('run', 'build'),
      test: inv('run', 'test'),
      listed: (o) => count(/^\s*@peers\/p\d+ packages\/p\d+\s*$/gm, o.stdout),
      tally: turboTally,
      outputs: () => workspaceOutputs(repo),
      deleteOutputs: () => deleteWorkspaceOutputs(repo),
      clearCaches() {
        sh([bin, 'daemon', 'stop'], repo.root, env);
        rmSync(join(repo.root, '.turbo'), { recursive: true, force: true });
        for (let i = 0; i < repo.packages; i++) rmSync(join(repo.root, packageDir(i), '.turbo'), { recursive: true, force: true });
        deleteWorkspaceOutputs(repo);
      },
      stop: () => void sh([bin, 'daemon', 'stop'], repo.root, env),
    },
  };
}

export function nxTool(repo: PeersRepo, opts: { daemon: boolean }): PeerTool {
  const env = { ...baseEnv(), NX_DAEMON: String(opts.daemon), NX_NO_CLOUD: 'true' };
  const bin = join(repo.root, 'node_modules', '.bin', 'nx');
  const inv = (...args: string[]): Invocation => ({ argv: [bin, ...args], cwd: repo.root, env });
  return {
    name: opts.daemon ? 'Nx' : 'Nx (no daemon)',
    available: () => nxAvailable(repo, bin, opts.daemon),
    commands: {
      query: inv('show', 'projects'),
      build: inv('run-many', '-t', 'build'),
      test: inv('run-many', '-t', 'test'),
      listed: (o) => count(/^@peers\/p\d+$/gm, o.stdout),
      tally: nxTally,
      outputs: () => workspaceOutputs(repo),
      deleteOutputs: () => deleteWorkspaceOutputs(repo),
      clearCaches() {
        // Stops the daemon and removes the cache and the workspace data (project graph, file hashes).
        must([bin, 'reset'], repo.root, env);
        deleteWorkspaceOutputs(repo);
      },
      stop: () => void sh([bin, 'daemon', '--stop'], repo.root, env),
    },
  };
}

/** The files of a tar archive (ustar, with pax path records), by path. */
export function readTar(buf: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let paxPath: string | undefined;
  for (let off = 0; off + 512 <= buf.length; ) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a: number, b: number): string => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = str(156, 157) || '0';
    const prefix = str(345, 500);
    const name = paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    const data = buf.subarray(off + 512, off + 512 + size);
    paxPath = undefined;
    if (type === 'x') paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))?.[1];
    else if (type === '0') files.set(name, Buffer.from(data));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/**
 * trews through its daemon or not; `base` is another trews checkout (built) to
 * time beside this one (without a daemon) in the same interleaved rounds, e.g. the commit before a
 * change ("before" and "after" under the same load). Both share the repo's store.
 */
export function trewsTool(repo: PeersRepo, opts: { daemon: boolean; base?: string; nodeClient?: boolean }): PeerTool {
  const env = baseEnv();
  const TREWS_ROOT = opts.base ?? THIS_TREWS_ROOT;
  // The launcher users run: the native client when that checkout built one (it serves warm daemon runs), else the Node client.
  const TREWS_BIN = join(TREWS_ROOT, 'bin', 'trews');
  const client = existsSync(join(TREWS_ROOT, 'dist', 'trews-native')) ? 'native client' : 'Node client';
  const flags = opts.daemon ? [] : ['--no-daemon'];
  // `nodeClient`: the Node client (`node bin/trews.cjs`) instead of the launcher, to time the native client against it.
  const entry = opts.nodeClient === true ? [process.execPath, join(TREWS_ROOT, 'bin', 'trews.cjs')] : [TREWS_BIN];
  const inv = (...args: string[]): Invocation => ({ argv: [...entry, ...flags, ...args], cwd: repo.root, env });
  const archive = join(repo.root, 'dist', 'all.tar');
  const stopDaemon = (): void => void sh([TREWS_BIN, 'daemon', 'stop'], repo.root, env);
  return {
    name: `trews${opts.base !== undefined ? ' base' : ''} (${opts.daemon ? 'daemon' : 'no daemon'}${opts.nodeClient === true ? ', Node client' : ''})`,
    available(): Availability {
      if (!existsSync(TREWS_BIN)) return { ok: false, why: `${TREWS_BIN} not found` };
      // The last commit that changed trews itself, not a later one that changed only bench/ or docs.
      const head = sh(['git', '-C', TREWS_ROOT, 'log', '-1', '--format=%h', '--', 'src', 'bin', 'scripts', 'package.json'], TREWS_ROOT);
      const dirty = sh(['git', '-C', TREWS_ROOT, 'status', '--porcelain', '--untracked-files=no', '--', 'src'], TREWS_ROOT);
      const commit = head.status === 0 ? `${head.out.trim()}${dirty.out.trim() ? ' + uncommitted changes in src/' : ''}` : 'unknown commit';
      return { ok: true, version: `trews${opts.base !== undefined ? ` in ${opts.base}` : ''} at ${commit}, ${opts.daemon ? `through its daemon (${opts.nodeClient === true ? 'Node client' : client})` : '--no-daemon'}` };
    },
    commands: {
      query: inv('list', '::'),
      build: inv('package', '::'),
      test: inv('test', '::'),
      listed: (o) => count(/^packages\/p\d+:build$/gm, o.stdout),
      tally(o, kind) {
        // `Packages: 40 built, 40 total · Processes: 12 ran locally, 388 from the local cache · Time: 4.2s`
        const m = /Processes: (.*?)(?: · |$)/m.exec(o.stdout + o.stderr) ?? noTally(kind, o, '"Processes: …" summary');
        // Through a warm daemon a goal whose results are all memoized asks for no process at
        // all (rule results are engine keys): `Processes: none`, nothing ran.
        const words = m[0].replace(/ · $/, '');
        if (m[1] === 'none') return { ran: 0, cached: 0, words };
        let ran = 0;
        let cached = 0;
        for (const part of (m[1] ?? '').split(', ').filter(Boolean)) {
          const [, n, how] = /^(\d+) (.*)$/.exec(part) ?? [];
          if (how === undefined) continue;
          if (how === 'ran locally' || how === 'ran remotely') ran += Number(n);
          else if (how === 'could not run') throw new CheckFailed(`trews: ${words}`);
          else cached += Number(n);
        }
        return { ran, cached, words };
      },
      outputs() {
        const text = readOrUndefined(archive) === undefined ? undefined : readTar(readFileSync(archive));
        return Array.from({ length: repo.packages }, (_, i) => text?.get(`${packageDir(i)}/${outputOf(i)}`)?.toString('utf8'));
      },
      deleteOutputs: () => rmSync(join(repo.root, 'dist'), { recursive: true, force: true }),
      clearCaches() {
        // A fresh local_store_dir and no daemon state (either tool's: they share both).
        stopDaemon();
        for (const dir of [join(CACHE_DIR, 'trews-store'), '.trews.d', 'dist']) rmSync(join(repo.root, dir), { recursive: true, force: true });
      },
      stop: stopDaemon,
      ...(opts.daemon
        ? {
            daemonRssMiB() {
              const pid = readOrUndefined(join(repo.root, '.trews.d', 'daemon', 'pid'));
              return pid === undefined ? undefined : rssMiB(Number(pid.trim()));
            },
          }
        : { forgetGraph: () => rmSync(join(repo.root, '.trews.d', 'graph'), { force: true }) }),
    },
  };
}

/** Every tool, in table order; the names `--tools` selects by. */
export function peerTools(repo: PeersRepo, opts: { trewsBase?: string } = {}): Record<string, PeerTool> {
  const base = opts.trewsBase;
  return {
    bazel: bazelTool(repo),
    turbo: turboTool(repo),
    nx: nxTool(repo, { daemon: true }),
    'nx-no-daemon': nxTool(repo, { daemon: false }),
    trews: trewsTool(repo, { daemon: true }),
    'trews-no-daemon': trewsTool(repo, { daemon: false }),
    // The same daemon as `trews`, reached through the Node client rather than the launcher (the native client).
    'trews-node-client': trewsTool(repo, { daemon: true, nodeClient: true }),
    ...(base !== undefined
      ? // Without its daemon only: two daemons of different builds for one root would replace each other every run.
        { 'trews-base-no-daemon': trewsTool(repo, { daemon: false, base }) }
      : {}),
  };
}
