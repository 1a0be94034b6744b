import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from './command-line.js';
import { changedDaemonOptions, daemonFingerprint, daemonOptionSnapshot } from './fingerprint.js';
import { OptionRegistry } from './registry.js';
import { resolveOptions } from './resolve.js';
import { GLOBAL, type OptionSpec } from './types.js';
import { expectOptions, resolveSample } from './test-support.js';

const fp = (input: Parameters<typeof resolveSample>[0] = {}): string => daemonFingerprint(expectOptions(resolveSample(input)), '1.0.0');

test('the fingerprint is stable and changes with the version', () => {
  assert.equal(fp(), fp());
  assert.match(fp(), /^[0-9a-f]{64}$/);
  const o = expectOptions(resolveSample());
  assert.notEqual(daemonFingerprint(o, '1.0.0'), daemonFingerprint(o, '1.0.1'));
});

test('it changes when a daemon option changes, and not for other options', () => {
  const base = fp();
  assert.notEqual(fp({ argv: ['--ignore=+["/build/"]'] }), base);
  assert.notEqual(fp({ env: { TREWS_LEVEL: 'debug' } }), base);
  assert.notEqual(fp({ config: '[GLOBAL]\nlocal_store_dir = "/cache"\n' }), base);
  assert.equal(fp({ argv: ['--remote-execution', '--no-colors', '--shell-tools=zsh'] }), base);
  assert.equal(fp({ env: { TREWS_TEST_TIMEOUT: '9' } }), base);
  // The same value from another source is the same daemon.
  assert.equal(fp({ env: { TREWS_LEVEL: 'debug' } }), fp({ argv: ['--level=debug'] }));
});

test('it does not depend on registration order or dict key order', () => {
  const specs: OptionSpec[] = [
    { scope: GLOBAL, name: 'alpha', type: 'string', default: 'a', help: '', daemon: true },
    { scope: 'svc', name: 'beta', type: 'dict', default: {}, help: '', daemon: true },
    { scope: GLOBAL, name: 'gamma', type: 'int', default: 3, help: '', daemon: true },
  ];
  const build = (order: OptionSpec[], headers: string): string => {
    const r = new OptionRegistry();
    r.registerScope({ name: 'svc', help: '', isGoal: false });
    for (const s of order) r.register(s);
    const cl = parseCommandLine([`--svc-beta=${headers}`], r);
    if (!cl.ok) throw new Error(cl.failure.message);
    const o = resolveOptions({ registry: r, commandLine: cl.value, env: {}, config: null, buildRoot: '/r', homeDir: '/h' });
    return daemonFingerprint(expectOptions(o), 'v');
  };
  const a = build(specs, "{'x': '1', 'y': '2'}");
  const b = build([...specs].reverse(), "{'y': '2', 'x': '1'}");
  assert.equal(a, b);
  assert.notEqual(a, build(specs, "{'x': '1', 'y': '3'}"));
});

test('snapshots hold daemon options only, and the changed ones are named as flags', () => {
  const before = daemonOptionSnapshot(expectOptions(resolveSample()));
  assert.deepEqual(before['GLOBAL.ignore'], ['.*/', '/dist/']);
  assert.equal(before['GLOBAL.remote_execution'], undefined);
  assert.deepEqual(Object.keys(before), [...Object.keys(before)].sort());
  const after = daemonOptionSnapshot(expectOptions(resolveSample({ argv: ['--ignore=+["/out/"]', '--level=debug', '--colors=false'] })));
  // Snapshots go through JSON between processes.
  const roundTripped = JSON.parse(JSON.stringify(after)) as Record<string, unknown>;
  assert.deepEqual(changedDaemonOptions(before, roundTripped), ['--ignore', '--level']);
  assert.deepEqual(changedDaemonOptions(before, before), []);
  assert.deepEqual(changedDaemonOptions({ 'remote-server.workers': 1 }, {}), ['--remote-server-workers']);
});
