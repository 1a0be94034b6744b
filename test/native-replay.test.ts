// End-to-end: a run without a daemon that did nothing is recorded
// (src/cli/replay-record.ts), and the next identical command line is
// answered by the native client from the record (src/native-client/replay.c)
// while every stamp in it holds. Each attack changes one thing the answer
// rests on; a replay that ignored it would print the old answer and leave
// the workspace wrong, so each fails without its check.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPLAY_DIR, replayFileName } from '../src/cli/replay-format.js';
import { RACY_MARGIN_MS } from '../src/fs/index.js';
import { collectOutput, copyExampleWorkspace, makeRepo, repoRoot, runTrews, snapshotFiles, TREWS_NODE_ENTRY, type CliResult, type ExampleWorkspace, type TempRepo } from './helpers/index.js';

const BUILT = existsSync(join(repoRoot(), 'dist', 'trews-native'));
// CI installs a C compiler (.ci/run): there, a missing native client is a failure, not a skip.
const skip = BUILT || process.env.CI === 'true' ? false : 'no native client was built here (npm run build found no C compiler); CI builds and tests it';

/** How trews is started: through the launcher (the native client, which replays in C), or `node bin/trews.cjs` (replay-check.ts). */
type Client = 'native' | 'node';

const replayedBy = (client: Client): RegExp => new RegExp(`replayed by the ${client === 'native' ? 'native' : 'Node'} client from \\.trews\\.d/replay/[0-9a-f]{16}, \\d+ stamps unchanged`);
/** Either client's replay line. */
const REPLAYED = /replayed by the (native|Node) client from \.trews\.d\/replay\/[0-9a-f]{16}, \d+ stamps unchanged/;

/** Runs trews as `client` starts it, with the environment runTrews would give the launcher. */
function runAs(client: Client, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<CliResult> {
  if (client === 'native') return runTrews(args, { cwd: opts.cwd, env: opts.env, persistGraph: true, replay: true, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TREWS_DAEMON: 'false', ...opts.env };
  const child = spawn(process.execPath, [TREWS_NODE_ENTRY, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return collectOutput(child, `node bin/trews.cjs ${args.join(' ')}`, opts.timeoutMs ?? 60_000).result;
}

/** Until every file written so far is older than the racy margin: only then is a run recorded. */
const aged = (): Promise<void> => sleep(RACY_MARGIN_MS + 250);

/** The last run's line in `root`'s trews.log: a replay appends one, a run in Node starts with one. */
async function lastRunIn(root: string): Promise<string> {
  const lines = (await readFile(join(root, '.trews.d', 'trews.log'), 'utf8')).split('\n').filter((l) => / run: trews /.test(l));
  return lines[lines.length - 1] ?? '';
}

/**
 * Runs `run` (trews `args` in `root`) once files are old enough, until the
 * record of `args` exists: after a change one run may still have work (a
 * build made a package's dist/, so its listing is read again), and on a
 * loaded machine a path can still be within the racy margin as a run starts.
 * At most four tries; returns the run that recorded.
 */
async function untilRecorded(root: string, args: readonly string[], run: () => Promise<CliResult>): Promise<CliResult> {
  const file = join(root, '.trews.d', REPLAY_DIR, replayFileName(realpathSync(root), args));
  for (let i = 0; i < 4; i++) {
    await aged();
    const r = await run();
    assert.equal(r.code, 0, r.stderr);
    if (existsSync(file)) return r;
  }
  return assert.fail(`no run of \`trews ${args.join(' ')}\` was recorded in four tries (with --level=debug, trews.log says why)`);
}

for (const client of ['native', 'node'] as const) {
  describe(`replaying a proven no-op without a daemon (the ${client} client)`, { skip: client === 'native' ? skip : false }, () => {
    let ws: ExampleWorkspace;
    let root: string;
    /** An empty directory first on PATH, where an attack puts a program. */
    let bin: string;
    const env = (): Record<string, string> => ({
      TREWS_DAEMON: 'false',
      TREWS_LOCAL_STORE_DIR: join(ws.scratch, 'store'),
      TMPDIR: ws.scratch,
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    });
    const trews = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runAs(client, args, { cwd: root, env: { ...env(), ...extra }, timeoutMs: 300_000 });
    const lastRun = (): Promise<string> => lastRunIn(root);
    const records = async (): Promise<string[]> => readdir(join(root, '.trews.d', 'replay')).catch(() => []);
    /** Runs `build ::` until one is recorded, then checks the next is replayed with the same answer. */
    const recordedAndReplayed = async (): Promise<CliResult> => {
      const recording = await untilRecorded(root, ['build', '::'], () => trews(['build', '::']));
      assert.equal((await records()).length, 1, 'the run that did nothing was recorded');
      const replayed = await trews(['build', '::']);
      assert.equal(replayed.code, 0, replayed.stderr);
      assert.match(await lastRun(), replayedBy(client));
      const timeless = (text: string): string => text.replace(/Time: [0-9.]+s/, 'Time: …');
      assert.equal(timeless(replayed.stderr), timeless(recording.stderr), 'the replay prints what the recorded run printed');
      assert.equal(replayed.stdout, recording.stdout);
      assert.match(replayed.stderr, /Builds: 3 succeeded, 3 total \(3 memoized\) · Processes: none · Time: 0\.\d\ds\n$/);
      return replayed;
    };

    before(async () => {
      ws = await copyExampleWorkspace('trews-native-replay-');
      root = ws.root;
      bin = join(ws.scratch, 'bin');
      await mkdir(bin);
      const cold = await trews(['build', '::']);
      assert.equal(cold.code, 0, cold.stderr);
    });
    after(() => ws.remove());

    it(`records a run that did nothing and replays it; a deleted output is written again${client === 'native' ? ' by the replay' : ', not replayed'}`, async () => {
      await recordedAndReplayed();
      const file = join(root, 'packages/strings/dist/index.js');
      const text = await readFile(file, 'utf8');
      await rm(file);
      const r = await trews(['build', '::']);
      assert.equal(r.code, 0, r.stderr);
      // The native client restores from the local store; the Node client's check only replays what is as recorded.
      if (client === 'native') assert.match(await lastRun(), /, 1 outputs restored$/);
      else assert.doesNotMatch(await lastRun(), REPLAYED);
      assert.match(r.stderr, /packages\/strings:build \(memoized\): 1 file written, \d+ unchanged\n/);
      assert.equal(await readFile(file, 'utf8'), text, 'the output is back');
    });

    it('a stray file in a declared output directory is removed, not replayed', async () => {
      await recordedAndReplayed();
      await writeFile(join(root, 'packages/greeter/dist/stray.js'), 'stray\n');
      const r = await trews(['build', '::']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(await lastRun(), REPLAYED);
      assert.match(r.stderr, /packages\/greeter:build \(memoized\): 0 files written, \d+ unchanged, 1 stale removed/);
      assert.ok(!existsSync(join(root, 'packages/greeter/dist/stray.js')));
    });

    it(`an output edited in place (same size) is written again${client === 'native' ? ' by the replay' : ', not replayed'}`, async () => {
      await recordedAndReplayed();
      const file = join(root, 'apps/cli/dist/main.js');
      const text = await readFile(file, 'utf8');
      await writeFile(file, text.replace(/[a-z]/, (c) => (c === 'x' ? 'y' : 'x')));
      const r = await trews(['build', '::']);
      assert.equal(r.code, 0, r.stderr);
      if (client === 'native') assert.match(await lastRun(), /, 1 outputs restored$/);
      else assert.doesNotMatch(await lastRun(), REPLAYED);
      assert.match(r.stderr, /apps\/cli:build \(memoized\): 1 file written/);
      assert.equal(await readFile(file, 'utf8'), text);
    });

    it('a source edit builds again', async () => {
      await recordedAndReplayed();
      await ws.edit('packages/strings/src/index.ts', (t) => `${t}\nexport const added = 1;\n`);
      const r = await trews(['build', '::']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(await lastRun(), REPLAYED);
      assert.match(r.stderr, /packages\/strings:build \(ran locally\)/);
      assert.match(await readFile(join(root, 'packages/strings/dist/index.js'), 'utf8'), /added/);
    });

    it('another environment variable, another trews.toml, or a new tool on PATH: run in Node', async () => {
      await recordedAndReplayed();
      let r = await trews(['build', '::'], { SOMETHING_ELSE: '1' });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(await lastRun(), REPLAYED, 'an environment variable the record does not hold');

      const config = join(root, 'trews.toml');
      const before = await readFile(config, 'utf8');
      await writeFile(config, `${before}\n# an edit\n`);
      r = await trews(['build', '::']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(await lastRun(), REPLAYED, 'trews.toml changed');

      await recordedAndReplayed();
      // An npm first on PATH would be the package manager a run finds (and installs with).
      await writeFile(join(bin, 'npm'), '#!/bin/sh\necho "the stand-in npm ran" >&2\nexit 3\n');
      await chmod(join(bin, 'npm'), 0o755);
      r = await trews(['build', '::']);
      assert.doesNotMatch(await lastRun(), REPLAYED, 'a tool found elsewhere on PATH');
      assert.notEqual(r.code, 0, 'the run finds the stand-in npm and cannot tell its version');
      assert.match(r.stderr, /npm/);
      await rm(join(bin, 'npm'));
    });

    it('a damaged, truncated or foreign record is no answer: the run is Node\'s', async () => {
      await recordedAndReplayed();
      const [name] = await records();
      const file = join(root, '.trews.d', 'replay', name!);
      const good = await readFile(file);
      const variants: [string, Buffer][] = [
        ['truncated before its end', good.subarray(0, good.length - 4)],
        ['cut in the middle', good.subarray(0, Math.floor(good.length / 2))],
        ['another format', Buffer.concat([Buffer.from('trews-replay 3\n'), good.subarray(good.indexOf('\n') + 1)])],
        ['a length that runs past the end', Buffer.from(good.toString('latin1').replace(/\nx1:0\n/, '\nx9:0\n'), 'latin1')],
        ['an unknown field', Buffer.from(good.toString('latin1').replace(/\nz0:\n$/, '\nj1:?\nz0:\n'), 'latin1')],
        ['a count for no build', Buffer.from(good.toString('latin1').replace(/\nz0:\n$/, '\nw3:999\nz0:\n'), 'latin1')],
        ['empty', Buffer.alloc(0)],
      ];
      for (const [what, bytes] of variants) {
        assert.notDeepEqual(bytes, good, what);
        await writeFile(file, bytes);
        const r = await trews(['build', '::']);
        assert.equal(r.code, 0, `${what}: ${r.stderr}`);
        assert.doesNotMatch(await lastRun(), REPLAYED, what);
      }
    });

    it('a run that fails removes the record of its command line', async () => {
      await recordedAndReplayed();
      await ws.edit('packages/greeter/src/index.ts', (t) => `${t}\nexport const broken: number = 'a string';\n`);
      const r = await trews(['build', '::']);
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(await records(), [], 'no record stands for a command line whose last run failed');
      await ws.edit('packages/greeter/src/index.ts', (t) => t.replace("\nexport const broken: number = 'a string';\n", ''));
    });
  });
}

describe('replaying `package` and `test` without a daemon (shell targets)', { skip }, () => {
  let repo: TempRepo;
  const BUILD = [
    'files(name="in", sources=["in.txt"])',
    'shell_command(name="copy", command="cat in.txt > out.txt", tools=["cat"], execution_dependencies=[":in"], output_files=["out.txt"])',
    'archive(name="all", format="tar", files=[":copy"])',
    'test_shell_command(name="t", command="grep -q good in.txt", tools=["grep"], execution_dependencies=[":in"])',
    '',
  ].join('\n');
  const trews = (args: string[]): Promise<CliResult> => runTrews(args, { cwd: repo.root, persistGraph: true, replay: true });
  const lastRun = (): Promise<string> => lastRunIn(repo.root);
  /** Runs `args` until one is recorded, then once more: replayed. */
  const replayed = async (args: string[]): Promise<CliResult> => {
    await untilRecorded(repo.root, args, () => trews(args));
    const r = await trews(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await lastRun(), REPLAYED, `trews ${args.join(' ')} was replayed`);
    return r;
  };

  before(async () => {
    repo = await makeRepo({ BUILD, 'in.txt': 'good\n' });
  });
  after(() => repo.cleanup());

  it('an archive in dist/ that was changed is written again; an unchanged one is left alone and replayed', async () => {
    const first = await trews(['package', '::']);
    assert.equal(first.code, 0, first.stderr);
    const tar = join(repo.root, 'dist', 'all.tar');
    const bytes = await readFile(tar);
    const r = await replayed(['package', '::']);
    assert.match(r.stderr, /✓ \/\/:all: wrote dist\/all\.tar/);
    // Same size, other bytes: the stamp moves, the run is Node's, and the archive is right again.
    const damaged = Buffer.from(bytes);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 1) ^ 0xff, damaged.length - 1);
    await writeFile(tar, damaged);
    const again = await trews(['package', '::']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(await lastRun(), REPLAYED);
    assert.deepEqual(await readFile(tar), bytes);
  });

  it('a cached test is replayed; a test input edited fails the next run', async () => {
    assert.equal((await trews(['test', '::'])).code, 0);
    await replayed(['test', '::']);
    await writeFile(join(repo.root, 'in.txt'), 'bad!\n');
    const r = await trews(['test', '::']);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(await lastRun(), REPLAYED);
  });
});

describe('replay_no_ops = false', { skip }, () => {
  it('records nothing, and the next run removes the record an earlier one left', async () => {
    const repo = await makeRepo({ BUILD: 'test_shell_command(name="t", command="true")\n' });
    try {
      const trews = (env: Record<string, string> = {}): Promise<CliResult> => runTrews(['test', '::'], { cwd: repo.root, persistGraph: true, replay: true, env });
      assert.equal((await trews()).code, 0);
      await untilRecorded(repo.root, ['test', '::'], () => trews());
      const dir = join(repo.root, '.trews.d', 'replay');
      assert.equal((await readdir(dir)).length, 1, 'recorded with the default');
      await writeFile(join(repo.root, 'trews.toml'), '[GLOBAL]\nreplay_no_ops = false\n');
      assert.equal((await trews()).code, 0);
      assert.deepEqual(await readdir(dir), [], 'trews.toml changed, so the run was Node\'s, and it removed the record');
      await aged();
      assert.equal((await trews()).code, 0);
      assert.equal((await trews()).code, 0);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await repo.cleanup();
    }
  });
});

describe('a replay writes `build` outputs back from the local store (the native client)', { skip }, () => {
  let ws: ExampleWorkspace;
  let root: string;
  /** A directory beside the build root, where an attack points a link. */
  let outside: string;
  const DIST = ['packages/strings/dist', 'packages/greeter/dist', 'apps/cli/dist'];
  const env = (): Record<string, string> => ({ TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: join(ws.scratch, 'store'), TMPDIR: ws.scratch });
  const trews = (): Promise<CliResult> => runAs('native', ['build', '::'], { cwd: root, env: env(), timeoutMs: 300_000 });
  const lastRun = (): Promise<string> => lastRunIn(root);
  const recorded = (): Promise<CliResult> => untilRecorded(root, ['build', '::'], trews);
  /** Every file under the dist/ directories: its mode and bytes. */
  const snapshot = (): Promise<Map<string, string>> => snapshotFiles(root, DIST);
  let built: Map<string, string>;

  before(async () => {
    ws = await copyExampleWorkspace('trews-native-restore-');
    root = ws.root;
    outside = join(ws.scratch, 'outside');
    await mkdir(outside);
    const cold = await trews();
    assert.equal(cold.code, 0, cold.stderr);
    built = await snapshot();
  });
  after(() => ws.remove());

  it('every dist/ deleted: written back byte for byte, and each build says how many files it wrote', async () => {
    await recorded();
    for (const d of DIST) await rm(join(root, d), { recursive: true });
    const r = await trews();
    assert.equal(r.code, 0, r.stderr);
    assert.match(await lastRun(), new RegExp(`replayed by the native client .*, ${built.size} outputs restored$`));
    assert.deepEqual(await snapshot(), built);
    for (const d of DIST) {
      const n = [...built.keys()].filter((p) => p.startsWith(`${d}/`)).length;
      assert.match(r.stderr, new RegExp(`✓ ${d.replace('/dist', '')}:build \\(memoized\\): ${n} files written, 0 unchanged\\n`));
    }
    assert.match(r.stderr, /Builds: 3 succeeded, 3 total \(3 memoized\) · Processes: none · Time: 0\.\d\ds\n$/);
    assert.deepEqual((await readdir(join(root, 'packages/strings'))).filter((n) => n.startsWith('.trews-native-')), [], 'no temporary is left');
    // Written now, the files have new stamps: the next replay compares their bytes, and writes nothing.
    const again = await trews();
    assert.match(await lastRun(), /replayed by the native client .*, 0 outputs restored$/);
    assert.match(again.stderr, /packages\/strings:build \(memoized\): 0 files written, \d+ unchanged\n/);
  });

  it('a restore in Node is recorded too: the next restore is replayed, a build with dist/ present is not', async () => {
    // Each restore deletes every dist/, as CI does after a checkout with a kept .trews.d.
    const restore = async (): Promise<CliResult> => {
      for (const d of DIST) await rm(join(root, d), { recursive: true, force: true });
      const r = await trews();
      assert.equal(r.code, 0, r.stderr);
      return r;
    };
    const file = join(root, '.trews.d', REPLAY_DIR, replayFileName(realpathSync(root), ['build', '::']));
    await rm(file, { force: true });
    // The first restore reads each package's listing without dist/ against a graph kept with it; the next is as kept, and records.
    for (let i = 0; i < 4 && !existsSync(file); i++) {
      await aged();
      await restore();
    }
    assert.ok(existsSync(file), 'a restore that the kept graph answered was recorded');
    const r = await restore();
    assert.match(await lastRun(), new RegExp(`replayed by the native client .*, ${built.size} outputs restored$`));
    assert.match(r.stderr, /packages\/greeter:build \(memoized\): \d+ files written, 0 unchanged\n/);
    assert.deepEqual(await snapshot(), built);
    // With every dist/ there, the packages list otherwise than that record's graph read them: Node's run.
    const present = await trews();
    assert.equal(present.code, 0, present.stderr);
    assert.doesNotMatch(await lastRun(), REPLAYED);
  });

  it('a blob of the local store changed: not replayed, and its bytes never reach the workspace', async () => {
    await recorded();
    const file = join(root, 'packages/strings/dist/index.js');
    const bytes = await readFile(file);
    const hash = createHash('sha256').update(bytes).digest('hex');
    const blob = join(ws.scratch, 'store', 'cas', hash.slice(0, 2), hash);
    await chmod(blob, 0o644);
    await writeFile(blob, Buffer.alloc(bytes.length, 0x2a));
    await rm(file);
    const r = await trews();
    assert.doesNotMatch(await lastRun(), REPLAYED);
    assert.ok(!existsSync(file) || (await readFile(file)).equals(bytes), `the damaged blob was not copied: ${r.stderr}`);
    // The store finds the damage and the build runs again; then all is as built.
    for (let i = 0; i < 2 && !(existsSync(file) && (await readFile(file)).equals(bytes)); i++) assert.equal((await trews()).code, 0);
    assert.deepEqual(await snapshot(), built);
  });

  it('dist/ made a link to a directory outside the root: not replayed, nothing written outside', async () => {
    await recorded();
    const dist = join(root, 'packages/greeter/dist');
    await rm(dist, { recursive: true });
    await symlink(outside, dist);
    const r = await trews();
    assert.doesNotMatch(await lastRun(), REPLAYED);
    assert.deepEqual(await readdir(outside), [], `nothing was written through the link: ${r.stderr}`);
    await rm(dist);
    assert.equal((await trews()).code, 0);
  });

  it('an output made a link to a file outside the root: the link is replaced, the file outside untouched', async () => {
    await recorded();
    const secret = join(outside, 'secret.txt');
    await writeFile(secret, 'secret\n');
    const file = join(root, 'packages/strings/dist/index.js');
    await rm(file);
    await symlink(secret, file);
    const r = await trews();
    assert.equal(r.code, 0, r.stderr);
    assert.match(await lastRun(), /, 1 outputs restored$/);
    assert.equal(await readFile(secret, 'utf8'), 'secret\n');
    assert.ok((await lstat(file)).isFile());
    assert.deepEqual(await snapshot(), built);
    await rm(secret);
  });

  it('a new file beside a deleted dist/, a stray file in it, or an output made a directory: not replayed', async () => {
    await recorded();
    const pkg = join(root, 'packages/greeter');
    await rm(join(pkg, 'dist'), { recursive: true });
    await writeFile(join(pkg, 'NOTES.md'), 'notes\n');
    let r = await trews();
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(await lastRun(), REPLAYED, 'the package directory lists otherwise');
    await rm(join(pkg, 'NOTES.md'));

    await recorded();
    await rm(join(root, 'packages/strings/dist/index.js'));
    await writeFile(join(root, 'packages/strings/dist/stray.js'), 'stray\n');
    r = await trews();
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(await lastRun(), REPLAYED, 'a stray file is for Node to remove');
    assert.match(r.stderr, /packages\/strings:build \(memoized\): 1 file written, \d+ unchanged, 1 stale removed/);

    await recorded();
    const main = join(root, 'apps/cli/dist/main.js');
    await rm(main);
    await mkdir(main);
    r = await trews();
    assert.doesNotMatch(await lastRun(), REPLAYED, 'a directory where a file goes');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await snapshot(), built);
  });
});
