// The local store loses or damages blobs (a GC, bit rot, a process writing
// to its input): the run that meets it may fail, with an error that says
// why, but nothing is memoized, and the next run re-reads the workspace and
// heals — through a warm daemon as without one. And `trews gc` running
// alongside a build never removes a blob the build still needs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DaemonJanitor, spawnTrews, waitUntil, type CliResult } from './helpers/index.js';
import { makeShellRepo, resultLines, type ShellRepo } from './helpers/shell.js';

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

const IN = 'the input\n';

function blobPath(store: string, content: string): string {
  const hash = createHash('sha256').update(content).digest('hex');
  return join(store, 'cas', hash.slice(0, 2), hash);
}

/** Flips one bit of the first byte in place: same size, as bit rot would. */
async function flipByte(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 0);
    b[0] = b[0]! ^ 0x01;
    await fh.write(b, 0, 1, 0);
  } finally {
    await fh.close();
  }
}

function healingRepo(): Promise<ShellRepo> {
  return makeShellRepo({
    'a/BUILD': [
      'files(name="data", sources=["*.txt"])',
      'test_shell_command(name="t", command="cat in.txt other.txt", tools=["cat"], execution_dependencies=[":data"])',
      '',
    ].join('\n'),
    'a/in.txt': IN,
    'a/other.txt': 'one\n',
  });
}

type Runner = (repo: ShellRepo, args: string[]) => Promise<CliResult>;
const direct: Runner = (repo, args) => repo.trews(args);
const viaDaemon: Runner = (repo, args) => janitor.run(repo.root, args, { env: { TREWS_LOCAL_STORE_DIR: repo.store, TMPDIR: repo.tmp } });

for (const [mode, run] of [
  ['through a warm daemon', viaDaemon],
  ['without a daemon', direct],
] as const) {
  describe(`healing ${mode}`, () => {
    it('a source blob damaged in the store: at most one run fails, saying so; the next one re-stores it and passes', async () => {
      const repo = await healingRepo();
      try {
        const first = await run(repo, ['test', 'a:t']);
        assert.equal(first.code, 0, first.stderr);
        await flipByte(blobPath(repo.store, IN));
        // Another input changes, so the test runs again on the damaged one.
        await repo.write('a/other.txt', 'two\n');
        const second = await run(repo, ['test', 'a:t']);
        if (second.code !== 0) {
          // A warm daemon knows the blob was stored and does not look again before it is materialized.
          assert.match(second.stderr, /file `a\/in\.txt` \([0-9a-f]{64}\/\d+\) was found damaged in the local store and deleted/);
          assert.doesNotMatch(second.stderr, /garbage collection/);
        }
        for (const args of [['test', 'a:t'], ['test', 'a:t', '--force']]) {
          const next = await run(repo, args);
          assert.equal(next.code, 0, `${args.join(' ')}:\n${next.stderr}`);
        }
        assert.equal(await readFile(blobPath(repo.store, IN), 'utf8'), IN, 'stored again, intact');
      } finally {
        await repo.cleanup();
      }
    });

    it('`trews gc` emptied the store between two runs: the next run re-stores what it needs and passes', async () => {
      const repo = await healingRepo();
      try {
        assert.equal((await run(repo, ['test', 'a:t'])).code, 0);
        const gc = await repo.trews(['gc', '--max-size=0']);
        assert.equal(gc.code, 0, gc.stderr);
        assert.match(gc.stdout, / 0 entries \(0 B\) remain\n$/);
        await repo.write('a/other.txt', 'two\n');
        const next = await run(repo, ['test', 'a:t']);
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(resultLines(next.stderr), ['✓ a:t succeeded (ran locally)'], next.stderr);
      } finally {
        await repo.cleanup();
      }
    });
  });
}

for (const daemon of [false, true]) {
describe(`trews gc alongside a running build ${daemon ? 'through a daemon' : 'without a daemon'}`, () => {
  it('removes nothing the build has used since it started: the build completes', async () => {
    const repo = await makeShellRepo({
      'a/BUILD': [
        'files(name="data", sources=["*.txt"])',
        'shell_command(name="first", command="cat in.txt > first.txt", tools=["cat"], execution_dependencies=[":data"], output_files=["first.txt"])',
        // Holds the build until the test has run `trews gc`.
        'shell_command(',
        '    name="wait",',
        '    command="touch \\"$SYNC/waiting\\"; while [ ! -e \\"$SYNC/go\\" ]; do sleep 0.05; done",',
        '    tools=["touch", "sleep"],',
        '    extra_env_vars=["SYNC"],',
        ')',
        // Needs the sources and `first`'s output after the GC.
        'test_shell_command(name="t", command="cat in.txt first.txt", tools=["cat"], execution_dependencies=[":data", ":first", ":wait"])',
        '',
      ].join('\n'),
      'a/in.txt': IN,
    });
    try {
      const sync = join(repo.tmp, 'sync');
      await mkdir(sync);
      const env: Record<string, string> = daemon ? { TREWS_LOCAL_STORE_DIR: repo.store, TMPDIR: repo.tmp, SYNC: sync } : { ...repo.env, SYNC: sync };
      const build = spawnTrews(['test', 'a:t', '--test-output=all'], { cwd: repo.root, env, daemon });
      build.child.stdin?.end('');
      await waitUntil(() => existsSync(join(sync, 'waiting')), 'the build to reach its waiting step');
      if (daemon) janitor.note(repo.root);
      const sizeBefore = (await stat(blobPath(repo.store, IN))).size;
      const gc = await repo.trews(['gc', '--max-size=0']);
      assert.equal(gc.code, 0, gc.stderr);
      assert.match(gc.stdout, /kept because running trews processes use them/);
      assert.equal((await stat(blobPath(repo.store, IN))).size, sizeBefore, 'the source blob the build stored is still there');
      await writeFile(join(sync, 'go'), '');
      const r = await build.result;
      if (daemon) janitor.note(repo.root);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /the input\n.*the input/s);
      // Once the build is over, nothing protects its entries any more.
      const later = await repo.trews(['gc', '--max-size=0']);
      assert.match(later.stdout, / 0 entries \(0 B\) remain\n$/);
    } finally {
      await repo.cleanup();
    }
  });
});
}
