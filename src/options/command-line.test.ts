import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderFailure } from '../ui/index.js';
import { parseCommandLine, type CommandLine } from './command-line.js';
import { expectFailure, sampleRegistry } from './test-support.js';

const registry = sampleRegistry();

function parse(...argv: string[]): CommandLine {
  const r = parseCommandLine(argv, registry);
  if (!r.ok) throw new Error(r.failure.message);
  return r.value;
}

function fail(...argv: string[]): string {
  const f = expectFailure(parseCommandLine(argv, registry));
  assert.equal(f.exitCode, 2);
  assert.equal(f.tag, 'input');
  return renderFailure(f);
}

test('splits goals, specs and passthrough, keeping -spec exclusions as specs', () => {
  const cl = parse('test', 'src/app::', '-src/app/legacy::', 'list', '//:root', '--', '--verbose', 'test', '-x');
  assert.deepEqual(cl.goals, ['test', 'list']);
  assert.deepEqual(cl.specs, ['src/app::', '-src/app/legacy::', '//:root']);
  assert.deepEqual(cl.passthrough, ['--verbose', 'test', '-x']);
  assert.deepEqual(cl.flags, []);
});

test('a scope that is not a goal is a spec; a repeated goal is listed once', () => {
  const cl = parse('remote-server', 'test', 'test');
  assert.deepEqual(cl.goals, ['test']);
  assert.deepEqual(cl.specs, ['remote-server']);
});

test('-h, --help, -v, -V and --version are the help and version goals', () => {
  assert.deepEqual(parse('-h').goals, ['help']);
  assert.deepEqual(parse('test', '--help').goals, ['test', 'help']);
  assert.deepEqual(parse('-v').goals, ['version']);
  assert.deepEqual(parse('-V').goals, ['version']);
  assert.deepEqual(parse('--version').goals, ['version']);
  assert.deepEqual(parse('-h').specs, []);
});

test('bool flags: --x, --no-x, --x=value', () => {
  const cl = parse('--remote-execution', '--no-dynamic-ui', '--colors=false');
  assert.deepEqual(cl.flags, [
    { scope: 'GLOBAL', name: 'remote_execution', raw: 'true', flag: '--remote-execution' },
    { scope: 'GLOBAL', name: 'dynamic_ui', raw: 'false', flag: '--no-dynamic-ui' },
    { scope: 'GLOBAL', name: 'colors', raw: 'false', flag: '--colors' },
  ]);
});

test('after a goal, a short flag is that goal option, else a GLOBAL one', () => {
  const cl = parse('--level=debug', 'test', '--timeout=5', '--level=warn', '--no-debug', 'list', '--documented');
  assert.deepEqual(
    cl.flags.map((f) => `${f.scope}.${f.name}=${f.raw}`),
    ['GLOBAL.level=debug', 'test.timeout=5', 'GLOBAL.level=warn', 'test.debug=false', 'list.documented=true'],
  );
});

test('qualified flags name their scope anywhere, including dashed scopes; aliases resolve to the option', () => {
  const cl = parse('--test-timeout=9', 'list', '--remote-server-workers=3', '--remote-store-address=grpc://h:1');
  assert.deepEqual(
    cl.flags.map((f) => `${f.scope}.${f.name}=${f.raw} (${f.flag})`),
    [
      'test.timeout=9 (--test-timeout)',
      'remote-server.workers=3 (--remote-server-workers)',
      'GLOBAL.remote_store_server=grpc://h:1 (--remote-store-address)',
    ],
  );
});

test('a goal short flag before the goal is unknown', () => {
  assert.equal(fail('--timeout=5', 'test'), 'error: unknown flag --timeout\n  did you mean --test-timeout?\n');
});

test('unknown flag names the closest valid spelling', () => {
  assert.equal(fail('--remte-execution'), 'error: unknown flag --remte-execution\n  did you mean --remote-execution?\n');
  assert.equal(fail('--remote_execution'), 'error: unknown flag --remote_execution\n  did you mean --remote-execution?\n');
  assert.equal(fail('--no-remte-cache-read'), 'error: unknown flag --no-remte-cache-read\n  did you mean --no-remote-cache-read?\n');
  assert.equal(fail('test', '--timeot=5'), 'error: unknown flag --timeot\n  did you mean --timeout?\n');
  assert.equal(fail('--zzzzzzzzzzzz'), 'error: unknown flag --zzzzzzzzzzzz\n  run `trews help` to list the options\n');
});

test('a non-bool flag needs =value; --no- only for bools and without a value', () => {
  assert.equal(
    fail('test', '--timeout', '5'),
    'error: --timeout needs a value\n  write --timeout=VALUE: a value is joined to its flag with =, not given as the next argument\n',
  );
  assert.equal(
    fail('test', '--no-timeout'),
    'error: --no-timeout is not a flag: --timeout is not a boolean option\n  set it with --timeout=VALUE\n',
  );
  assert.equal(
    fail('--no-remote-execution=true'),
    'error: --no-remote-execution does not take a value\n  write --no-remote-execution or --remote-execution=VALUE\n',
  );
});

test('flags after -- are passthrough, not parsed', () => {
  const cl = parse('test', '--', '--nonsense', '--timeout');
  assert.deepEqual(cl.flags, []);
  assert.deepEqual(cl.passthrough, ['--nonsense', '--timeout']);
});

test('after help, a goal name is the topic, not a goal run too (`trews help graph` must not serve the graph)', () => {
  const cl = parse('--help', 'test', 'list');
  assert.deepEqual(cl.goals, ['help']);
  assert.deepEqual(cl.specs, ['test', 'list']);
  assert.deepEqual(parse('test', '--help').goals, ['test', 'help'], 'a goal before help still runs');
});
