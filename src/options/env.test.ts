import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderFailure } from '../ui/index.js';
import { envNames } from './env.js';
import { envVarName } from './naming.js';
import { resolveOptions } from './resolve.js';
import { describeSource } from './source.js';
import { GLOBAL } from './types.js';
import { expectFailure, expectOptions, resolveSample, sampleRegistry } from './test-support.js';

test('env names: TREWS_<NAME> for GLOBAL, TREWS_<SCOPE>_<NAME> for scopes, dashes become underscores', () => {
  assert.equal(envVarName(GLOBAL, 'remote_execution'), 'TREWS_REMOTE_EXECUTION');
  assert.equal(envVarName('test', 'timeout'), 'TREWS_TEST_TIMEOUT');
  assert.equal(envVarName('remote-server', 'workers'), 'TREWS_REMOTE_SERVER_WORKERS');
  const names = envNames(sampleRegistry());
  assert.equal(names.get('TREWS_REMOTE_STORE_ADDRESS')?.spec.name, 'remote_store_server');
  assert.equal(names.get('TREWS_REMOTE_SERVER_WORKERS')?.spec.scope, 'remote-server');
});

test('env sets options and is reported by variable name, aliases included', () => {
  const o = expectOptions(
    resolveSample({
      env: {
        TREWS_REMOTE_EXECUTION: 'true',
        TREWS_REMOTE_EXECUTION_ADDRESS: 'grpcs://re:443',
        TREWS_REMOTE_SERVER_WORKERS: '3',
        PATH: '/bin',
        trews_level: 'not ours: only the upper-case prefix is',
      },
    }),
  );
  assert.equal(o.bool(GLOBAL, 'remote_execution'), true);
  assert.equal(o.maybeString(GLOBAL, 'remote_execution_server'), 'grpcs://re:443');
  assert.equal(describeSource(o.withSource(GLOBAL, 'remote_execution_server').source), 'env TREWS_REMOTE_EXECUTION_ADDRESS');
  assert.equal(o.int('remote-server', 'workers'), 3);
});

test('with an alias and the canonical variable both set, the canonical one wins', () => {
  const o = expectOptions(resolveSample({ env: { TREWS_REMOTE_STORE_SERVER: 'a:1', TREWS_REMOTE_STORE_ADDRESS: 'b:2' } }));
  assert.equal(o.maybeString(GLOBAL, 'remote_store_server'), 'a:1');
});

test('an unknown TREWS_ variable is an error naming the closest valid one', () => {
  let f = expectFailure(resolveSample({ env: { TREWS_REMTE_EXECUTION: 'true' } }));
  assert.equal(renderFailure(f), 'error: unknown environment variable TREWS_REMTE_EXECUTION: no option has that name\n  did you mean TREWS_REMOTE_EXECUTION?\n');
  assert.equal(f.exitCode, 2);
  f = expectFailure(resolveSample({ env: { 'TREWS_REMOTE-SERVER_WORKERS': '1' } }));
  assert.equal(
    renderFailure(f),
    'error: unknown environment variable TREWS_REMOTE-SERVER_WORKERS: no option has that name\n  did you mean TREWS_REMOTE_SERVER_WORKERS?\n',
  );
  f = expectFailure(resolveSample({ env: { TREWS_ZZZZZZZZZZZZZZZZZZZZ: '1' } }));
  assert.equal(
    renderFailure(f),
    'error: unknown environment variable TREWS_ZZZZZZZZZZZZZZZZZZZZ: no option has that name\n' +
      '  options are set by TREWS_<OPTION> (global) or TREWS_<SCOPE>_<OPTION>; unset TREWS_ZZZZZZZZZZZZZZZZZZZZ if it is not meant for trews\n',
  );
});

test('reserved TREWS_ variables read elsewhere are not reported', () => {
  const registry = sampleRegistry();
  const r = resolveOptions({
    registry,
    commandLine: { goals: [], specs: [], passthrough: [], flags: [] },
    env: { TREWS_DAEMON_SOCKET: '/tmp/s' },
    config: null,
    buildRoot: '/repo',
    homeDir: '/home/me',
    reservedEnv: ['TREWS_DAEMON_SOCKET'],
  });
  assert.ok(r.ok);
});
