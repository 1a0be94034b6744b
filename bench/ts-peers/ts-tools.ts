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
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Availability, Invocation, Outcome, Tool } from '../peers/bench-runner.js';
import { baseEnv, count, noTally, nxAvailable, nxTally, sh, THIS_TREWS_ROOT, turboAvailable, turboEnv, turboTally } from '../peers/peer-tools.js';
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

export function deleteOutputs(repo: TsRepo): void {
  for (let i = 0; i < repo.packages; i++) rmSync(join(repo.root, packageDir(i), 'dist'), { recursive: true, force: true });
}

export function turboTool(repo: TsRepo): TsTool {
  const env = turboEnv();
  const bin = join(repo.root, 'node_modules', '.bin', 'turbo');
  const inv = (...args: string[]): Invocation => ({ argv: [bin, ...args], cwd: repo.root, env });
  return {
    name: 'Turborepo',
    available: () => turboAvailable(repo, bin),
    commands: {
      query: inv('ls'),
      build: inv('run', 'build'),
      listed: (o) => count(/^\s*@tsb\/p\d+ packages\/p\d+\s*$/gm, o.stdout),
      tally: (o) => turboTally(o, 'build'),
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
    available: () => nxAvailable(repo, bin, true),
    commands: {
      query: inv('show', 'projects'),
      build: inv('run-many', '-t', 'build'),
      listed: (o) => count(/^@tsb\/p\d+$/gm, o.stdout),
      tally: (o) => nxTally(o, 'build'),
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

/** `tscWorker: false`: `--javascript-tsc-worker=false`, every tsc spawned (the A/B of the tsc worker). */
export function trewsTool(repo: TsRepo, opts: { daemon: boolean; tscWorker?: boolean }): TsTool {
  const env = baseEnv();
  const bin = join(THIS_TREWS_ROOT, 'bin', 'trews');
  const flags = [...(opts.daemon ? [] : ['--no-daemon']), ...(opts.tscWorker === false ? ['--javascript-tsc-worker=false'] : [])];
  const inv = (...args: string[]): Invocation => ({ argv: [bin, ...flags, ...args], cwd: repo.root, env });
  const stopDaemon = (): void => void sh([bin, 'daemon', 'stop'], repo.root, env);
  return {
    name: `trews (${opts.daemon ? 'daemon' : 'no daemon'}${opts.tscWorker === false ? ', tsc spawned' : ''})`,
    available(): Availability {
      if (!existsSync(bin)) return { ok: false, why: `${bin} not found` };
      const head = sh(['git', '-C', THIS_TREWS_ROOT, 'log', '-1', '--format=%h', '--', 'src', 'bin', 'scripts', 'package.json'], THIS_TREWS_ROOT, env);
      return { ok: true, version: `trews at ${(head.status === 0 && head.out.trim()) || 'unknown commit (not a git checkout)'}, ${flags.length === 0 ? 'through its daemon' : flags.join(' ')}` };
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
        if (builds.length === 0) noTally('build', o, '"✓ packages/pN:build (…)" line');
        const ran = builds.filter((how) => how.startsWith('ran ')).length;
        // `Builds: 3 succeeded, 3 total · Processes: 4 ran locally · Time: 1.2s`
        const summary = /^(?:[A-Z][a-z]+: .* · )?Processes: .*$/m.exec(text)?.[0];
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
  return {
    turbo: turboTool(repo),
    nx: nxTool(repo),
    trews: trewsTool(repo, { daemon: true }),
    'trews-no-daemon': trewsTool(repo, { daemon: false }),
    'trews-no-worker': trewsTool(repo, { daemon: false, tscWorker: false }),
  };
}
