// End-to-end: a run the daemon served, proven once its answer was out
// (src/cli/daemon-replay.ts), is recorded, and the next identical command
// line is answered by the native client without reaching the daemon while
// every stamp in the record holds. Each attack changes one thing the answer
// rests on: a replay that ignored it would print the old answer and leave
// the workspace as it was.
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPLAY_DIR, replayFileName } from '../src/cli/replay-format.js';
import { RACY_MARGIN_MS } from '../src/fs/index.js';
import { copyExampleWorkspace, DaemonJanitor, snapshotFiles, daemonLog, repoRoot, waitUntil, type CliResult, type ExampleWorkspace } from './helpers/index.js';

const BUILT = existsSync(join(repoRoot(), 'dist', 'trews-native'));
// CI installs a C compiler (.ci/run): there, a missing native client is a failure, not a skip.
const skip = BUILT || process.env.CI === 'true' ? false : 'no native client was built here (npm run build found no C compiler); CI builds and tests it';

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

const REPLAYED = /replayed by the native client from \.trews\.d\/replay\/[0-9a-f]{16}, \d+ stamps unchanged, (\d+) outputs restored$/;

describe('a run the daemon served is replayed by the native client', { skip }, () => {
  let ws: ExampleWorkspace;
  let root: string;
  const DIST = ['packages/strings/dist', 'packages/greeter/dist', 'apps/cli/dist'];
  const ARGS = ['build', '::'];
  // Replays are off in the helpers unless asked for; the daemon's own log at debug says why a run was not recorded.
  const env = (): Record<string, string> => ({ TREWS_REPLAY_NO_OPS: 'true', TREWS_LOCAL_STORE_DIR: join(ws.scratch, 'store'), TMPDIR: ws.scratch, TREWS_LEVEL: 'debug' });
  const trews = (): Promise<CliResult> => janitor.run(root, ARGS, { env: env() });
  const record = (): string => join(root, '.trews.d', REPLAY_DIR, replayFileName(realpathSync(root), ARGS));
  /** The daemon's runs so far (`run #N ended`). */
  const daemonRuns = (): number => [...daemonLog(root).matchAll(/ run #\d+ ended/g)].length;
  /** The last run's line in trews.log: only a replay writes one there (the daemon logs to its own). */
  const lastReplay = async (): Promise<string> => {
    const lines = (await readFile(join(root, '.trews.d', 'trews.log'), 'utf8').catch(() => '')).split('\n').filter((l) => / run: trews /.test(l));
    return lines[lines.length - 1] ?? '';
  };
  /**
   * Runs the build through the daemon until a run of it is recorded: the
   * record is written after the answer, once the daemon has proven it, and a
   * run whose inputs or blobs were written within the racy margin is not.
   */
  const recorded = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) {
      await rm(record(), { force: true });
      await sleep(RACY_MARGIN_MS + 250);
      const r = await trews();
      assert.equal(r.code, 0, r.stderr);
      try {
        await waitUntil(() => existsSync(record()), 'the record', 5_000);
        return;
      } catch {
        // Not this run: the daemon log says why; the next one, older files.
      }
    }
    assert.fail(`no daemon run of \`trews build ::\` was recorded in four tries:\n${daemonLog(root).split('\n').filter((l) => /replay:/.test(l)).join('\n')}`);
  };
  /** Every file under the dist/ directories: its mode and bytes. */
  const snapshot = (): Promise<Map<string, string>> => snapshotFiles(root, DIST);
  const withoutTime = (s: string): string => s.replace(/Time: [0-9.]+s/g, 'Time: …');

  before(async () => {
    ws = await copyExampleWorkspace('trews-daemon-replay-');
    root = ws.root;
    const cold = await janitor.run(root, ARGS, { env: env() });
    assert.equal(cold.code, 0, cold.stderr);
  });
  after(async () => {
    // The daemon first: it writes in .trews.d until it has stopped.
    await janitor.stopAll();
    await ws.remove();
  });

  it('a build the daemon answered from its graph is replayed, with what the daemon printed; the daemon sees no run', async () => {
    await recorded();
    const served = await trews();
    const runs = daemonRuns();
    const replayed = await trews();
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(await lastReplay(), REPLAYED);
    assert.equal(daemonRuns(), runs, 'the daemon ran nothing');
    assert.equal(withoutTime(replayed.stderr), withoutTime(served.stderr));
    assert.equal(replayed.stdout, served.stdout);
  });

  it('a source edited: not replayed; the daemon builds it, and the dist/ holds the edit', async () => {
    await recorded();
    const src = join(root, 'packages/strings/src/index.ts');
    const before = await readFile(src, 'utf8');
    await writeFile(src, `${before}export const editedForReplay = 1;\n`);
    try {
      const runs = daemonRuns();
      const r = await trews();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(daemonRuns(), runs + 1, 'the daemon ran it');
      assert.match(r.stderr, /packages\/strings:build \(ran locally\)/);
      assert.match(await readFile(join(root, 'packages/strings/dist/index.js'), 'utf8'), /editedForReplay/);
    } finally {
      await writeFile(src, before);
    }
  });

  it('every dist/ deleted: the replay writes them back byte for byte without the daemon', async () => {
    await recorded();
    const built = await snapshot();
    for (const d of DIST) await rm(join(root, d), { recursive: true });
    const runs = daemonRuns();
    const r = await trews();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(daemonRuns(), runs, 'the daemon ran nothing');
    assert.equal(REPLAYED.exec(await lastReplay())?.[1], String(built.size), 'every output restored');
    assert.deepEqual(await snapshot(), built);
    assert.match(r.stderr, /Builds: 3 succeeded, 3 total \(3 memoized\) · Processes: none · Time: 0\.\d\ds\n$/);
  });

  it('a run that ran processes is not recorded: its record would say they ran', async () => {
    const src = join(root, 'packages/greeter/src/index.ts');
    const before = await readFile(src, 'utf8');
    await writeFile(src, `${before}export const editedAgain = 2;\n`);
    try {
      await sleep(RACY_MARGIN_MS + 250);
      const r = await trews();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /ran locally/);
      await waitUntil(() => /replay: not recorded \(processes ran or were served from a cache\)/.test(daemonLog(root)), 'the daemon to say why', 5_000);
      await waitUntil(() => !existsSync(record()), 'the older record of the command line to go too', 5_000);
    } finally {
      await writeFile(src, before);
    }
  });
});
