// Help about a goal, however it is asked for, is help: it never runs the goal.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertGolden, makeRepo, runTrews } from './helpers/index.js';

function filesUnder(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? filesUnder(join(dir, e.name)) : 1;
  return n;
}

describe('help', () => {
  it('`help test`, `test --help` and `help-advanced test` print the goal and its options', async () => {
    const repo = await makeRepo({ BUILD: 'test_shell_command(name="t", command="exit 1")\n' });
    try {
      const help = await runTrews(['help', 'test'], { cwd: repo.root });
      assert.equal(help.code, 0, help.stderr);
      assert.equal(help.stderr, '');
      assertGolden('help/test', `$ trews help test\n${help.stdout}`);
      const flag = await runTrews(['test', '--help', '::'], { cwd: repo.root });
      assert.equal(flag.code, 0, flag.stderr);
      assert.equal(flag.stdout, help.stdout, 'the failing test did not run');
      const advanced = await runTrews(['help-advanced', 'test'], { cwd: repo.root });
      assert.equal(advanced.code, 0, advanced.stderr);
      assert.ok(advanced.stdout.startsWith('test\n'), advanced.stdout);
    } finally {
      await repo.cleanup();
    }
  });

  it('`help gc` and `gc --help` never collect anything', async () => {
    const repo = await makeRepo({ BUILD: 'test_shell_command(name="t", command="true")\n' });
    const env = { XDG_CACHE_HOME: join(repo.root, '.cache') };
    try {
      assert.equal((await runTrews(['test', '::'], { cwd: repo.root, env })).code, 0);
      const store = join(repo.root, '.cache', 'trews');
      const before = filesUnder(store);
      assert.ok(before > 0 && statSync(store).isDirectory());
      for (const args of [
        ['help', 'gc', '--gc-max-size=0'],
        ['gc', '--help', '--gc-max-size=0'],
        ['help-advanced', 'gc', '--gc-max-size=0'],
      ]) {
        const r = await runTrews(args, { cwd: repo.root, env });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.startsWith('gc\n'), `${args.join(' ')}:\n${r.stdout}`);
        assert.equal(r.stderr, '');
        assert.doesNotMatch(r.stdout, /removed \d/);
        assert.equal(filesUnder(store), before, `${args.join(' ')} left the store alone`);
      }
    } finally {
      await repo.cleanup();
    }
  });

  it('the overview lists every goal, help-advanced included', async () => {
    const r = await runTrews(['help'], { cwd: '/' });
    assert.equal(r.code, 0, r.stderr);
    for (const goal of ['list', 'peek', 'dependencies', 'dependents', 'filedeps', 'test', 'run', 'package', 'gc', 'help', 'help-advanced', 'version']) {
      assert.match(r.stdout, new RegExp(`^  ${goal} +\\S`, 'm'), goal);
    }
  });
});
