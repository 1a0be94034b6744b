import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { GLOBAL, OptionRegistry, registerGlobalOptions } from '../options/index.js';
import { daemonOffByFlagOrEnv, globalEnv, globalFlags, globalSection, readBootstrap } from './bootstrap.js';
import { daemonSubcommand } from './daemon-command.js';
import { parseTrewsdArgs } from './trewsd.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function root(toml: string): string {
  const r = mkdtempSync(join(tmpdir(), 'trews-boot-'));
  roots.push(r);
  writeFileSync(join(r, 'trews.toml'), toml);
  return r;
}

function registry(): OptionRegistry {
  const r = new OptionRegistry();
  registerGlobalOptions(r);
  return r;
}

describe('bootstrap options', () => {
  test('flags: GLOBAL ones are read; goals, specs, goal options and passthrough are skipped', () => {
    const flags = globalFlags(
      ['--level=debug', 'test', '--timeout=5', 'src::', '--no-daemon', '--loop', '--test-timeout=3', '--ignore=+["x/"]', '--remote_execution', '--', '--level=error'],
      registry(),
    );
    assert.deepEqual(
      flags.map((f) => [f.name, f.raw, f.flag]),
      [
        ['level', 'debug', '--level'],
        ['daemon', 'false', '--no-daemon'],
        ['loop', 'true', '--loop'],
        ['ignore', '+["x/"]', '--ignore'],
      ],
    );
    assert.ok(flags.every((f) => f.scope === GLOBAL));
    assert.deepEqual(globalFlags(['--level'], registry()), [], 'a non-bool flag without a value is the run\'s error to report');
  });

  test('env: TREWS_* variables of goals and backends are left to the run', () => {
    assert.deepEqual(globalEnv({ PATH: '/bin', TREWS_LEVEL: 'debug', TREWS_TEST_TIMEOUT: '5', TREWS_REMOTE_STORE_ADDRESS: 'h:1', TREWS_TYPO: 'x' }, registry()), {
      PATH: '/bin',
      TREWS_LEVEL: 'debug',
      TREWS_REMOTE_STORE_ADDRESS: 'h:1',
    });
  });

  test('trews.toml: only [GLOBAL] is kept', () => {
    const g = globalSection('[GLOBAL]\nlevel = "debug"\nignore.add = ["x/"]\n\n[test]\ntimeout = 3\n[shell]\ntools = ["bash"]\n');
    assert.ok(g.ok);
    assert.doesNotMatch(g.value, /test|shell|timeout/);
    assert.match(g.value, /level = "debug"/);
    const none = globalSection('[test]\ntimeout = 3\n');
    assert.deepEqual(none, { ok: true, value: '' });
    assert.equal(globalSection('[GLOBAL\n').ok, false);
  });

  test('the fingerprint follows the daemon options only, from any source', () => {
    const r = root('[GLOBAL]\nlevel = "info"\n\n[test]\ntimeout = 3\n');
    const read = (argv: string[], env: Record<string, string> = {}): string => {
      const b = readBootstrap({ argv, env, root: r, homeDir: '/home/u' });
      assert.ok(b.ok, b.ok ? '' : b.failure.message);
      return b.value.fingerprint;
    };
    const base = read(['list', '::']);
    assert.equal(read(['peek', 'a:', '--tag=x', '--remote-execution']), base, 'options outside the fingerprint do not change it');
    assert.equal(read(['test', '::', '--timeout=9'], { TREWS_TEST_TIMEOUT: '4' }), base);
    assert.notEqual(read(['--ignore=+["gen/"]', 'list', '::']), base);
    assert.notEqual(read(['list', '::'], { TREWS_LEVEL: 'debug' }), base);
    assert.equal(read(['--level=info', 'list', '::']), base, 'the same value from another source is the same fingerprint');
    const b = readBootstrap({ argv: ['--ignore=+["gen/"]'], env: {}, root: r, homeDir: '/h' });
    assert.ok(b.ok);
    assert.deepEqual(b.value.record.options['GLOBAL.ignore'], ['.*/', '/dist/', 'gen/']);
    assert.equal(b.value.options.bool(GLOBAL, 'daemon'), true);
  });

  test('daemonOffByFlagOrEnv says the daemon is off only when readBootstrap would say so (or fail)', () => {
    const cases: [string[], Record<string, string>][] = [];
    const flagSets = [[], ['--no-daemon'], ['--daemon'], ['--daemon', '--no-daemon'], ['--no-daemon', '--daemon'], ['--daemon=false'], ['--daemon=0'], ['--daemon=TRUE'], ['--daemon=maybe'], ['--', '--no-daemon'], ['--no-daemon=x']];
    const envs: Record<string, string>[] = [{}, { TREWS_DAEMON: 'false' }, { TREWS_DAEMON: 'False' }, { TREWS_DAEMON: '0' }, { TREWS_DAEMON: 'true' }, { TREWS_DAEMON: 'nope' }, { TREWS_DAEMON: '' }];
    for (const flags of flagSets) for (const env of envs) cases.push([['list', ...flags.slice(0, 1), '::', ...flags.slice(1)], env]);
    let off = 0;
    for (const config of ['', '[GLOBAL]\ndaemon = true\n', '[GLOBAL]\ndaemon = false\n']) {
      const r = root(config);
      for (const [argv, env] of cases) {
        const b = readBootstrap({ argv, env, root: r, homeDir: '/h' });
        const said = daemonOffByFlagOrEnv(argv, env);
        if (said) off++;
        // Off by the shortcut: the full read agrees, or fails (and the client runs in-process then too).
        if (said) assert.ok(!b.ok || !b.value.options.bool(GLOBAL, 'daemon'), `${argv.join(' ')} ${JSON.stringify(env)} ${JSON.stringify(config)}`);
        // The shortcut never overrules trews.toml: without a flag or variable that says so, it reads it.
        if (!said && b.ok && !b.value.options.bool(GLOBAL, 'daemon')) assert.ok(config.includes('daemon = false') || argv.some((a) => a.startsWith('--daemon=')), `${argv.join(' ')} ${JSON.stringify(env)}`);
      }
    }
    assert.ok(off > 20, 'the usual ways (--no-daemon, TREWS_DAEMON=false) take the shortcut');
  });

  test('an error in the GLOBAL options is a Failure (the run reports it in full)', () => {
    const r = root('[GLOBAL]\nlevel = "loud"\n');
    const b = readBootstrap({ argv: ['list'], env: {}, root: r, homeDir: '/h' });
    assert.equal(b.ok, false);
    const typo = readBootstrap({ argv: [], env: {}, root: root('[GLOBAL]\nlevle = "debug"\n'), homeDir: '/h' });
    assert.equal(typo.ok, false);
  });
});

describe('command lines of the client and the daemon', () => {
  test('`trews daemon ...` is recognised by its first non-flag word', () => {
    assert.deepEqual(daemonSubcommand(['daemon', 'status']), { sub: 'status', rest: [] });
    assert.deepEqual(daemonSubcommand(['--level=debug', 'daemon', 'start', '--ignore=+["x/"]']), { sub: 'start', rest: ['--level=debug', '--ignore=+["x/"]'] });
    assert.deepEqual(daemonSubcommand(['daemon']), { sub: { unknown: '' }, rest: [] });
    assert.deepEqual(daemonSubcommand(['daemon', 'reload']), { sub: { unknown: 'reload' }, rest: [] });
    assert.equal(daemonSubcommand(['list', 'daemon']), undefined, 'a spec named daemon after a goal is a spec');
    assert.equal(daemonSubcommand(['--no-daemon', 'list', '::']), undefined);
  });

  test('trewsd reads its root and the client\'s command line', () => {
    assert.deepEqual(parseTrewsdArgs(['--root=/r', '--title-room=....', '--', 'list', '::', '--', 'x']), { root: '/r', args: ['list', '::', '--', 'x'] });
    assert.deepEqual(parseTrewsdArgs(['--root=/r']), { root: '/r', args: [] });
    assert.equal(parseTrewsdArgs(['--root=relative']), undefined);
    assert.equal(parseTrewsdArgs(['--', '--root=/r']), undefined, 'after -- it is the client\'s');
  });
});
