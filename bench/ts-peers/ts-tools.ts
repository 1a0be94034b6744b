// The tools compared on the generated TypeScript workspace, each as its users
// run it; all of them write each package's dist/ in the workspace:
// - trews: `trews build ::`, `trews list ::`, through its daemon (the default)
//   and with `--no-daemon` (how CI runs it); both share one local store;
// - turbo: `turbo run build`, `turbo ls` (telemetry and update checks off),
//   each task through `npm run build`;
// - nx: `nx run-many -t build`, `nx show projects`, with the Nx daemon
//   (NX_DAEMON=true, its default on a developer's machine) and Nx Cloud off.
// The tally of a build is the number of build tasks that really ran, in the
// tool's own words.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Availability, Invocation, Outcome, Tool } from '../peers/bench-runner.js';
import { CheckFailed } from '../peers/bench-runner.js';
import { CACHE_DIR, packageDir, type TsRepo } from './generate-ts-repo.js';

export interface Tally {
  /** Build tasks that really ran (not served from any cache). */
  readonly ran: number;
  /** The tool's own words the figure comes from. */
  readonly words: string;
}

export interface TsCommands {
  readonly query: Invocation;
  readonly build: Invocation;
  /** How many of the repo's packages the graph query listed. */
  listed(o: Outcome): number;
  tally(o: Outcome): Tally;
  /** Every cache and every bit of daemon state of the tool gone, and the outputs deleted: the next run is cold. */
  clearCaches(): void;
  stop(): void;
}

export type TsTool = Tool<TsCommands>;

const THIS_TREWS_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** This environment minus what would put a tool in CI mode or carry someone's settings. */
function baseEnv(): Record<string, string> {
  const drop = /^(CI|CONTINUOUS_INTEGRATION|BUILD_NUMBER|RUN_ID|GITHUB_ACTIONS|GITLAB_CI|BUILDKITE|CIRCLECI|TRAVIS|JENKINS_URL|TF_BUILD|TREWS_.*|NX_.*|TURBO_.*)$/;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !drop.test(k)) env[k] = v;
  return env;
}

function sh(argv: readonly string[], cwd: string, env: Record<string, string>): { status: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.error ? null : r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function deleteOutputs(repo: TsRepo): void {
  for (let i = 0; i < repo.packages; i++) rmSync(join(repo.root, packageDir(i), 'dist'), { recursive: true, force: true });
}

function count(re: RegExp, text: string): number {
  return [...text.matchAll(re)].length;
}

function noTally(o: Outcome, what: string): never {
  throw new CheckFailed(`no ${what} in the build output:\n${(o.stdout + o.stderr).trimEnd().split('\n').slice(-10).join('\n')}`);
}

function packageVersion(repo: TsRepo, name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(repo.root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

export function turboTool(repo: TsRepo): TsTool {
  const env = { ...baseEnv(), TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' };
  const bin = join(repo.root, 'node_modules', '.bin', 'turbo');
  const inv = (...args: string[]): Invocation => ({ argv: [bin, ...args], cwd: repo.root, env });
  return {
    name: 'Turborepo',
    available(): Availability {
      const version = packageVersion(repo, 'turbo');
      return version !== undefined && existsSync(bin) ? { ok: true, version: `turbo ${version}` } : { ok: false, why: 'turbo is not installed in the generated repo (did npm install fail?)' };
    },
    commands: {
      query: inv('ls'),
      build: inv('run', 'build'),
      listed: (o) => count(/^\s*@tsb\/p\d+ packages\/p\d+\s*$/gm, o.stdout),
      tally(o) {
        const m = /Cached:\s+(\d+) cached, (\d+) total/.exec(o.stdout + o.stderr) ?? noTally(o, '"Cached:" line');
        return { ran: Number(m[2]) - Number(m[1]), words: m[0].replace(/\s+/g, ' ') };
      },
      clearCaches() {
        sh([bin, 'daemon', 'stop'], repo.root, env);
        rmSync(join(repo.root, '.turbo'), { recursive: true, force: true });
        for (let i = 0; i < repo.packages; i++) rmSync(join(repo.root, packageDir(i), '.turbo'), { recursive: true, force: true });
        deleteOutputs(repo);
      },
      stop: () => void sh([bin, 'daemon', 'stop'], repo.root, env),
    },
  };
}

export function nxTool(repo: TsRepo): TsTool {
  const env = { ...baseEnv(), NX_DAEMON: 'true', NX_NO_CLOUD: 'true' };
  const bin = join(repo.root, 'node_modules', '.bin', 'nx');
  const inv = (...args: string[]): Invocation => ({ argv: [bin, ...args], cwd: repo.root, env });
  return {
    name: 'Nx',
    available(): Availability {
      const version = packageVersion(repo, 'nx');
      return version !== undefined && existsSync(bin) ? { ok: true, version: `nx ${version}, with its daemon (NX_DAEMON=true)` } : { ok: false, why: 'nx is not installed in the generated repo (did npm install fail?)' };
    },
    commands: {
      query: inv('show', 'projects'),
      build: inv('run-many', '-t', 'build'),
      listed: (o) => count(/^@tsb\/p\d+$/gm, o.stdout),
      tally(o) {
        // `Cache:             20/40 hit (50%)`
        const m = /Cache:\s+(\d+)\/(\d+) hit[^\n]*/.exec(o.stdout + o.stderr) ?? noTally(o, '"Cache: H/T hit" line');
        return { ran: Number(m[2]) - Number(m[1]), words: m[0].replace(/\s+/g, ' ') };
      },
      clearCaches() {
        // Stops the daemon and removes the cache and the workspace data (project graph, file hashes).
        const r = sh([bin, 'reset'], repo.root, env);
        if (r.status !== 0) throw new Error(`nx reset failed: ${r.out.trim()}`);
        deleteOutputs(repo);
      },
      stop: () => void sh([bin, 'daemon', '--stop'], repo.root, env),
    },
  };
}

export function trewsTool(repo: TsRepo, opts: { daemon: boolean }): TsTool {
  const env = baseEnv();
  const bin = join(THIS_TREWS_ROOT, 'bin', 'trews');
  const flags = opts.daemon ? [] : ['--no-daemon'];
  const inv = (...args: string[]): Invocation => ({ argv: [process.execPath, bin, ...flags, ...args], cwd: repo.root, env });
  const stopDaemon = (): void => void sh([process.execPath, bin, 'daemon', 'stop'], repo.root, env);
  return {
    name: `trews (${opts.daemon ? 'daemon' : 'no daemon'})`,
    available(): Availability {
      if (!existsSync(bin)) return { ok: false, why: `${bin} not found` };
      const head = sh(['git', '-C', THIS_TREWS_ROOT, 'log', '-1', '--format=%h', '--', 'src', 'bin', 'scripts', 'package.json'], THIS_TREWS_ROOT, env);
      return { ok: true, version: `trews at ${head.out.trim() || 'unknown commit'}, ${opts.daemon ? 'through its daemon' : '--no-daemon'}` };
    },
    commands: {
      query: inv('list', '::'),
      build: inv('build', '::'),
      listed: (o) => count(/^packages\/p\d+:build$/gm, o.stdout),
      tally(o) {
        // A line per build: `✓ packages/p6:build (ran locally): 3 files written, 3 unchanged`
        // (or `(local cache)`, `(memoized)`); the install is not a build task.
        const text = o.stdout + o.stderr;
        const builds = [...text.matchAll(/^✓ packages\/p\d+:build \(([^)]*)\)/gm)].map((m) => m[1]!);
        if (builds.length === 0) noTally(o, '"✓ packages/pN:build (…)" line');
        const ran = builds.filter((how) => how.startsWith('ran ')).length;
        const summary = /^Processes: .*$/m.exec(text)?.[0];
        return { ran, words: `${builds.length} build lines, ${ran} "ran"${summary ? `; ${summary}` : ''}` };
      },
      clearCaches() {
        // A fresh local store (the install with it) and no daemon state; both trews tools share them.
        stopDaemon();
        for (const dir of [join(CACHE_DIR, 'trews-store'), '.trews.d']) rmSync(join(repo.root, dir), { recursive: true, force: true });
        deleteOutputs(repo);
      },
      stop: stopDaemon,
    },
  };
}

/** Every tool, in table order; the names `--tools` selects by. */
export function tsTools(repo: TsRepo): Record<string, TsTool> {
  return { turbo: turboTool(repo), nx: nxTool(repo), trews: trewsTool(repo, { daemon: true }), 'trews-no-daemon': trewsTool(repo, { daemon: false }) };
}
