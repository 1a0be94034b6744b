// The rows of the comparison on the generated peers repo. Each checks, after
// every timed run, that the tool did what the row says, from the tool's own
// report and from the outputs it left: a row that timed a no-op by mistake
// would be worse than no row.
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Outcome, Scenario } from './bench-runner.js';
import { CheckFailed } from './bench-runner.js';
import { downstreamOf, expectedOutputs, packageDir, type PeersRepo } from './generate-peers-repo.js';
import type { Kind, PeerCommands, PeerTool } from './peer-tools.js';

export type PeerScenario = Scenario<PeerCommands>;

/** Every output present and equal to what the current sources make. */
function checkOutputs(repo: PeersRepo, tool: PeerTool): string {
  const want = expectedOutputs(repo);
  const got = tool.commands.outputs();
  const missing = got.flatMap((g, i) => (g === undefined ? [i] : []));
  if (missing.length > 0) throw new CheckFailed(`${missing.length} of ${repo.packages} outputs missing (first: ${packageDir(missing[0]!)})`);
  const stale = got.flatMap((g, i) => (g !== want[i] ? [i] : []));
  if (stale.length > 0) throw new CheckFailed(`${stale.length} of ${repo.packages} outputs differ from what the sources make (first: ${packageDir(stale[0]!)})`);
  return `all ${repo.packages} outputs present and as the sources make them`;
}

function checkRan(tool: PeerTool, o: Outcome, kind: Kind, want: number): string {
  const t = tool.commands.tally(o, kind);
  if (t.ran !== want) throw new CheckFailed(`expected ${want} ${kind} step${want === 1 ? '' : 's'} to run, the tool says ${t.ran} did: "${t.words}"`);
  return `${t.ran} ran ("${t.words}")`;
}

export interface PeerScenarioOptions {
  readonly coldRuns: number;
}

/** The scenarios by id, in table order. */
export function peerScenarios(repo: PeersRepo, opts: PeerScenarioOptions): Record<string, PeerScenario> {
  const n = repo.packages;
  const edited = Math.max(0, n - 10);
  const editedFile = join(repo.root, packageDir(edited), 'src', 'a.txt');
  const downstream = downstreamOf(edited, n).length;
  let original: string | undefined;
  const editTag = Date.now().toString(36);
  let edits = 0;
  /** The daemon log's size before an `rss-settled` run: its settle line comes after. */
  let logSizeBefore = 0;
  return {
    query: {
      name: 'graph query',
      checks: `exit 0 and all ${n} packages listed`,
      command: (t) => t.commands.query,
      check(t, o) {
        const listed = t.commands.listed(o);
        if (listed !== n) throw new CheckFailed(`listed ${listed} of ${n} packages`);
        return `listed all ${n} packages`;
      },
    },
    'query-cold': {
      name: 'graph query, nothing kept',
      checks: `the kept graph deleted before each run (trews without a daemon: .trews.d/graph, so every BUILD file and package.json is read and evaluated again); exit 0 and all ${n} packages listed`,
      skip: (t) => (t.commands.forgetGraph === undefined ? 'measured for trews without a daemon only' : undefined),
      prepare: (t) => t.commands.forgetGraph?.(),
      command: (t) => t.commands.query,
      check(t, o) {
        const listed = t.commands.listed(o);
        if (listed !== n) throw new CheckFailed(`listed ${listed} of ${n} packages`);
        return `listed all ${n} packages`;
      },
    },
    cached: {
      name: 'fully cached: build everything',
      checks: `no build step ran (the tool's own count) and all ${n} outputs present and current`,
      command: (t) => t.commands.build,
      check: (t, o) => `${checkRan(t, o, 'build', 0)}; ${checkOutputs(repo, t)}`,
    },
    test: {
      name: 'fully cached: test everything',
      checks: 'no test ran (the tool\'s own count)',
      command: (t) => t.commands.test,
      check: (t, o) => checkRan(t, o, 'test', 0),
    },
    restored: {
      name: 'outputs deleted, restored',
      checks: `the outputs deleted before each run (trews: dist/; Bazel: bazel-bin/…/out/*.txt; Turborepo, Nx: packages/*/out/), no build step ran, all ${n} outputs present again and current`,
      prepare: (t) => t.commands.deleteOutputs(),
      command: (t) => t.commands.build,
      check: (t, o) => `${checkRan(t, o, 'build', 0)}; ${checkOutputs(repo, t)}`,
    },
    edit: {
      name: 'one near-leaf edit',
      checks: `a new line appended to ${packageDir(edited)}/src/a.txt before each run; exactly the ${downstream} build steps downstream of it ran, all ${n} outputs current`,
      prepare() {
        original ??= readFileSync(editedFile, 'utf8');
        // A line never written before: no cache can answer it.
        appendFileSync(editedFile, `edit ${editTag} ${edits++}\n`);
      },
      command: (t) => t.commands.build,
      check: (t, o) => `${checkRan(t, o, 'build', downstream)}; ${checkOutputs(repo, t)}`,
      finish() {
        if (original !== undefined) writeFileSync(editedFile, original);
      },
    },
    cold: {
      name: `cold: build everything (a serial chain of ${n} steps)`,
      runs: opts.coldRuns,
      warmup: 0,
      checks: `every cache and daemon of the tool cleared and the outputs deleted before each run; all ${n} build steps ran, all ${n} outputs current`,
      prepare: (t) => t.commands.clearCaches(),
      command: (t) => t.commands.build,
      check: (t, o) => `${checkRan(t, o, 'build', n)}; ${checkOutputs(repo, t)}`,
    },
    rss: {
      name: 'daemon RSS after a fully cached build',
      unit: 'MiB',
      checks: 'no build step ran; the daemon is running',
      skip: (t) => (t.commands.daemonRssMiB === undefined ? 'not measured for this tool' : undefined),
      command: (t) => t.commands.build,
      check: (t, o) => checkRan(t, o, 'build', 0),
      measure(t) {
        const rss = t.commands.daemonRssMiB?.();
        if (rss === undefined) throw new CheckFailed('no daemon running after the build');
        return rss;
      },
    },
    'rss-settled': {
      name: 'daemon RSS once idle after a fully cached build',
      unit: 'MiB',
      checks: `no build step ran; the daemon is running; measured once the daemon, idle, settled its heap (its log's "heap: settled" line after the build, or ${SETTLE_WAIT_MS / 1000} s without one: nothing to settle)`,
      skip: (t) => (t.commands.daemonRssMiB === undefined ? 'not measured for this tool' : undefined),
      prepare: () => {
        logSizeBefore = fileSize(join(repo.root, '.trews.d', 'daemon.log'));
      },
      command: (t) => t.commands.build,
      check: (t, o) => checkRan(t, o, 'build', 0),
      async measure(t) {
        const log = join(repo.root, '.trews.d', 'daemon.log');
        const deadline = Date.now() + SETTLE_WAIT_MS;
        while (Date.now() < deadline && !readFrom(log, logSizeBefore).includes('heap: settled')) await new Promise((r) => setTimeout(r, 100));
        const rss = t.commands.daemonRssMiB?.();
        if (rss === undefined) throw new CheckFailed('no daemon running after the build');
        return rss;
      },
    },
  };
}

/** How long `rss-settled` waits for the daemon's settle (it comes after 1 s idle and takes about 1 s at N=1000). */
const SETTLE_WAIT_MS = 6000;

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFrom(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
