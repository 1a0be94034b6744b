// End-to-end: what one daemon's graph keeps between runs, and how runs of
// several clients share it, through the real CLI and a real trewsd.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DaemonJanitor, daemonLog, makeRepo, spawnTrews, waitUntil, type CliResult, type TempRepo } from './helpers/index.js';

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

const viaDaemon = (repo: TempRepo, args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  janitor.run(repo.root, args, { env: { TREWS_LOCAL_STORE_DIR: join(repo.root, '.store'), ...env } });

function count(text: string, re: RegExp): number {
  return text.match(re)?.length ?? 0;
}

describe('rule results in a daemon', () => {
  it('are engine nodes: a second run whose inputs did not change computes no rule again', async () => {
    const repo = await makeRepo({
      'trews.toml': '[GLOBAL]\nlevel = "trace"\n',
      BUILD: [
        'files(name="data", sources=["in.txt"])',
        'shell_command(name="gen", command="cat in.txt in.txt > out.txt", tools=["cat"], execution_dependencies=[":data"], output_files=["out.txt"])',
        'test_shell_command(name="check", command="grep -q x out.txt", tools=["grep"], execution_dependencies=[":gen"])',
        '',
      ].join('\n'),
      'in.txt': 'x\n',
    });
    const first = await viaDaemon(repo, ['test', '::']);
    assert.equal(first.code, 0, first.stderr);
    const rulesComputed = (): number => count(daemonLog(repo.root), /computing (contribution|test|sandbox-inputs):/g);
    const before = rulesComputed();
    assert.ok(before >= 3, daemonLog(repo.root));

    const second = await viaDaemon(repo, ['test', '::']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /✓ \/\/:check succeeded in .* \(memoized\)/);
    assert.equal(rulesComputed(), before, 'nothing of the rule layer ran again');

    // An edit reaches exactly the rules that read it, and the test reruns.
    await repo.write('in.txt', 'y\n');
    const third = await viaDaemon(repo, ['test', '::']);
    assert.equal(third.code, 1, third.stderr);
    assert.match(third.stderr, /✕ \/\/:check failed in .* \(ran locally\)/);
  });

  it('--force reruns a test every time, not only the first time', async () => {
    const repo = await makeRepo({ BUILD: 'test_shell_command(name="t", command="true")\n' });
    for (const attempt of [1, 2, 3]) {
      const r = await viaDaemon(repo, ['test', '--force', '::']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /✓ \/\/:t succeeded in .* \(ran locally\)/, `attempt ${attempt}:\n${r.stderr}`);
      assert.match(r.stderr, / · Processes: 1 ran locally · /, `attempt ${attempt}`);
    }
    // A forced result is never cached: the first plain run runs the test, the next one has it.
    assert.match((await viaDaemon(repo, ['test', '::'])).stderr, /✓ \/\/:t succeeded in .* \(ran locally\)/);
    assert.match((await viaDaemon(repo, ['test', '::'])).stderr, /✓ \/\/:t succeeded in .* \(memoized\)/);
  });
});

describe('runs of several clients', () => {
  it('with other environment variables wait for the run in progress, then see their own values', async () => {
    const gate = await mkdtemp(join(tmpdir(), 'trews-gate-'));
    try {
      const repo = await makeRepo({
        BUILD: [
          'test_shell_command(',
          '    name="t",',
          '    command=\'touch "$GATE/started-$GREETING"; while [ ! -e "$GATE/go" ]; do sleep 0.05; done; echo "greeting=$GREETING"\',',
          '    tools=["touch", "sleep"],',
          '    extra_env_vars=["GREETING", "GATE"],',
          ')',
          '',
        ].join('\n'),
      });
      await viaDaemon(repo, ['list', '::']); // the daemon is up before the race
      const client = (greeting: string): ReturnType<typeof spawnTrews> => {
        const s = spawnTrews(['test', '--test-output=all', '::'], {
          cwd: repo.root,
          daemon: true,
          env: { TREWS_LOCAL_STORE_DIR: join(repo.root, '.store'), GREETING: greeting, GATE: gate },
        });
        s.child.stdin?.end('');
        return s;
      };
      const a = client('hello');
      await waitUntil(() => existsSync(join(gate, 'started-hello')), 'the first client to start its test');
      const b = client('bonjour');
      await waitUntil(() => b.output().stderr.includes('waiting for'), `the second client to say it waits:\n${b.output().stderr}`);
      assert.equal(existsSync(join(gate, 'started-bonjour')), false, 'the second run did not start beside the first');
      await writeFile(join(gate, 'go'), '');
      const [ra, rb] = await Promise.all([a.result, b.result]);
      janitor.note(repo.root);
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
      assert.match(ra.stderr, /greeting=hello/);
      assert.doesNotMatch(ra.stderr, /bonjour|waiting/);
      assert.match(rb.stderr, /^trews: waiting for a run with other options or environment variables to finish \(up to 60s\)$/m);
      assert.match(rb.stderr, /greeting=bonjour/);
      assert.doesNotMatch(rb.stderr, /greeting=hello/);
    } finally {
      await rm(gate, { recursive: true, force: true });
    }
  });

  it('with other inputs and no time to wait fail at once, saying why', async () => {
    const gate = await mkdtemp(join(tmpdir(), 'trews-gate-'));
    try {
      const repo = await makeRepo({
        BUILD: 'test_shell_command(name="t", command=\'touch "$GATE/started"; while [ ! -e "$GATE/go" ]; do sleep 0.05; done\', tools=["touch", "sleep"], extra_env_vars=["GATE"])\n',
      });
      const env = { TREWS_LOCAL_STORE_DIR: join(repo.root, '.store'), GATE: gate };
      await viaDaemon(repo, ['list', '::']);
      const a = spawnTrews(['test', '::'], { cwd: repo.root, daemon: true, env });
      a.child.stdin?.end('');
      await waitUntil(() => existsSync(join(gate, 'started')), 'the first client to start its test');
      const b = await viaDaemon(repo, ['list', '::'], { ...env, TREWS_DAEMON_TIMEOUT_WHEN_MULTIPLE_INVOCATIONS: '0', OTHER: 'x' });
      assert.equal(b.code, 1);
      assert.equal(
        b.stderr,
        [
          'error: a run with other options or environment variables is in progress',
          '  waited 0s (daemon_timeout_when_multiple_invocations); run again when it is done, or with the same options and environment variables',
          '',
        ].join('\n'),
      );
      // The same inputs run beside it.
      const c = await viaDaemon(repo, ['list', '::'], env);
      assert.equal(c.code, 0, c.stderr);
      await writeFile(join(gate, 'go'), '');
      assert.equal((await a.result).code, 0);
    } finally {
      await rm(gate, { recursive: true, force: true });
    }
  });
});

describe('the watcher’s sync before a run', () => {
  /** A repo of one file target, debug logging on, listed once through its daemon. */
  async function oneFileRepoListed(): Promise<Awaited<ReturnType<typeof makeRepo>>> {
    const repo = await makeRepo({
      'trews.toml': '[GLOBAL]\nlevel = "debug"\n',
      BUILD: 'files(name="a", sources=["a.txt"])\n',
      'a.txt': 'a\n',
    });
    const first = await viaDaemon(repo, ['list', '::']);
    assert.equal(first.code, 0, first.stderr);
    return repo;
  }

  it('goes on the contents of paths written too recently to trust their stamps, and still sees an edit made in that window', async () => {
    const repo = await oneFileRepoListed();
    // The files are seconds old at most: the proof after the run finds them too recent to trust.
    await waitUntil(() => /paths stamped \(\d+ too recent to trust\) and synced/.test(daemonLog(repo.root)), 'a proof after the first run');
    // The same size, written now: only its content (or a stamp that moved) can tell.
    await repo.write('BUILD', 'files(name="b", sources=["a.txt"])\n');
    const second = await viaDaemon(repo, ['list', '::']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, '//:b\na.txt:b\n');
    await repo.write('BUILD', 'files(name="c", sources=["a.txt"])\n');
    const third = await viaDaemon(repo, ['list', '::']);
    assert.equal(third.stdout, '//:c\na.txt:c\n');
  });

  it('does not invalidate a directory whose entry came and went, and still sees a file created in it', async () => {
    const repo = await makeRepo({
      'trews.toml': '[GLOBAL]\nlevel = "debug"\n',
      '.gitignore': 'out/\n',
      BUILD: 'files(name="a", sources=["*.txt"])\n',
      'a.txt': 'a\n',
    });
    const proofs = (): number => count(daemonLog(repo.root), /paths stamped \(0 too recent to trust\) and synced/g);
    assert.equal((await viaDaemon(repo, ['list', '::'])).stdout, '//:a\na.txt:a\n');
    await waitUntil(() => proofs() >= 1, 'a proof with every path stamped');
    // An ignored output directory made and removed again (a restore's dist/ as a run found it):
    // the root's stamp moves, what the graph read of it does not.
    await mkdir(join(repo.root, 'out'));
    await repo.write('out/x.txt', 'x\n');
    await rm(join(repo.root, 'out'), { recursive: true });
    const second = await viaDaemon(repo, ['list', '::']);
    assert.equal(second.stdout, '//:a\na.txt:a\n');
    assert.match(daemonLog(repo.root), /no sync needed: 1 of \d+ paths changed since the last sync \(…\), 0 of them too recent to trust; 0 recent ones unchanged by their contents \(checked in [0-9.]+ ms\); 1 of the changed read as the graph holds them \([0-9.]+ ms\), 0 invalidated/);
    await waitUntil(() => proofs() >= 2, 'proved again after the second run');
    // A visible file, right before the run: the listing reads otherwise.
    await repo.write('b.txt', 'b\n');
    const third = await viaDaemon(repo, ['list', '::']);
    assert.equal(third.stdout, '//:a\na.txt:a\nb.txt:a\n');
  });

  it('is replaced by stat stamps taken while idle, and an edit made just before a run is still seen', async () => {
    const repo = await oneFileRepoListed();
    await waitUntil(() => /paths stamped \(0 too recent to trust\) and synced/.test(daemonLog(repo.root)), 'a proof with every path stamped (3 s after the files were written)');

    const second = await viaDaemon(repo, ['list', '::']);
    assert.equal(second.stdout, '//:a\na.txt:a\n');
    assert.match(daemonLog(repo.root), /no sync needed: 0 of \d+ paths changed since the last sync, 0 of them too recent/);

    // Written this instant, and a run right after: no watcher event can have arrived, the stamp shows it.
    await waitUntil(() => count(daemonLog(repo.root), /paths stamped \(0 too recent to trust\) and synced/g) >= 2, 'proved again after the second run');
    await repo.write('BUILD', 'files(name="b", sources=["a.txt"])\n');
    const third = await viaDaemon(repo, ['list', '::']);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.stdout, '//:b\na.txt:b\n');
    assert.match(daemonLog(repo.root), /no sync needed: [12] of \d+ paths changed since the last sync \((BUILD|)…\), 0 of them too recent/);
  });
});
