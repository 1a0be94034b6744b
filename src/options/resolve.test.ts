import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderFailure } from '../ui/index.js';
import { describeSource } from './source.js';
import { GLOBAL } from './types.js';
import { expectFailure, expectOptions, resolveSample } from './test-support.js';

const sources = (o: ReturnType<typeof expectOptions>, scope: string, name: string): string[] =>
  o.withSource(scope, name).sources.map(describeSource);

test('defaults when no source says anything', () => {
  const o = expectOptions(resolveSample());
  assert.equal(o.bool(GLOBAL, 'remote_execution'), false);
  assert.equal(o.int('test', 'timeout'), 60);
  assert.equal(o.maybeString(GLOBAL, 'remote_store_server'), null);
  assert.deepEqual(o.list(GLOBAL, 'build_patterns'), ['BUILD', 'BUILD.*', '!BUILD.bazel', '!BUILD.bzl']);
  assert.equal(o.enum(GLOBAL, 'level'), 'info');
  assert.deepEqual(o.withSource('test', 'timeout'), { value: 60, source: { type: 'default' }, sources: [{ type: 'default' }] });
});

test('precedence: flag > env > config > default, each reported as the source', () => {
  const config = '[test]\ntimeout = 10\n';
  const env = { TREWS_TEST_TIMEOUT: '20' };
  const argv = ['test', '--timeout=30'];
  let o = expectOptions(resolveSample({ config }));
  assert.equal(o.int('test', 'timeout'), 10);
  assert.equal(describeSource(o.withSource('test', 'timeout').source), 'trews.toml:2');
  o = expectOptions(resolveSample({ config, env }));
  assert.equal(o.int('test', 'timeout'), 20);
  assert.equal(describeSource(o.withSource('test', 'timeout').source), 'env TREWS_TEST_TIMEOUT');
  o = expectOptions(resolveSample({ config, env, argv }));
  assert.equal(o.int('test', 'timeout'), 30);
  assert.deepEqual(sources(o, 'test', 'timeout'), ['flag --timeout']);
  o = expectOptions(resolveSample({ env, argv: ['--test-timeout=40'] }));
  assert.equal(o.int('test', 'timeout'), 40);
  assert.deepEqual(sources(o, 'test', 'timeout'), ['flag --test-timeout']);
});

test('bool values from every source', () => {
  const cases: [Parameters<typeof resolveSample>[0], boolean][] = [
    [{ argv: ['--remote-execution'] }, true],
    [{ argv: ['--remote-execution', '--no-remote-execution'] }, false],
    [{ argv: ['--remote-execution=False'] }, false],
    [{ argv: ['--remote-execution=1'] }, true],
    [{ env: { TREWS_REMOTE_EXECUTION: 'true' } }, true],
    [{ env: { TREWS_REMOTE_EXECUTION: 'True' } }, true],
    [{ env: { TREWS_REMOTE_EXECUTION: '0' } }, false],
    [{ config: '[GLOBAL]\nremote_execution = true\n' }, true],
    [{ config: '[GLOBAL]\nremote_execution = "True"\n' }, true],
    [{ config: '[GLOBAL]\nremote_execution = true\n', env: { TREWS_REMOTE_EXECUTION: 'false' } }, false],
    [{ env: { TREWS_REMOTE_EXECUTION: 'false' }, argv: ['--remote-execution'] }, true],
  ];
  for (const [input, want] of cases) {
    assert.equal(expectOptions(resolveSample(input)).bool(GLOBAL, 'remote_execution'), want, JSON.stringify(input));
  }
});

test('scalar types: int, float, enum, string, path with ~', () => {
  const o = expectOptions(
    resolveSample({
      argv: ['test', '--ratio=2.5e1', '--output=all', '--remote-instance-name=main', '--shell-cache-dir=~/cache', '--remote-ca-certs-path=certs/ca.pem'],
      env: { TREWS_REMOTE_SERVER_WORKERS: '12' },
    }),
  );
  assert.equal(o.float('test', 'ratio'), 25);
  assert.equal(o.enum('test', 'output'), 'all');
  assert.equal(o.maybeString(GLOBAL, 'remote_instance_name'), 'main');
  assert.equal(o.maybePath('shell', 'cache_dir'), '/home/me/cache');
  assert.equal(o.maybePath(GLOBAL, 'remote_ca_certs_path'), 'certs/ca.pem', 'relative paths stay as given');
  assert.equal(o.int('remote-server', 'workers'), 12);
});

test('lists: replace, append and remove across sources, lowest rank first', () => {
  const config = '[shell]\ntools = ["bash", "zsh", "sed"]\n';
  let o = expectOptions(resolveSample({ config }));
  assert.deepEqual(o.list('shell', 'tools'), ['bash', 'zsh', 'sed']);
  assert.deepEqual(sources(o, 'shell', 'tools'), ['trews.toml:2']);

  o = expectOptions(resolveSample({ config, env: { TREWS_SHELL_TOOLS: "+['awk'],-['zsh']" } }));
  assert.deepEqual(o.list('shell', 'tools'), ['bash', 'sed', 'awk']);
  assert.deepEqual(sources(o, 'shell', 'tools'), ['trews.toml:2', 'env TREWS_SHELL_TOOLS']);

  o = expectOptions(resolveSample({ config, env: { TREWS_SHELL_TOOLS: "+['awk']" }, argv: ['--shell-tools=-["bash"]', '--shell-tools=jq', '--shell-tools=yq'] }));
  assert.deepEqual(o.list('shell', 'tools'), ['zsh', 'sed', 'awk', 'jq', 'yq']);
  assert.deepEqual(sources(o, 'shell', 'tools'), ['trews.toml:2', 'env TREWS_SHELL_TOOLS', 'flag --shell-tools']);

  o = expectOptions(resolveSample({ config, env: { TREWS_SHELL_TOOLS: "+['awk']" }, argv: ["--shell-tools=['cat']", '--shell-tools=+["tr"]'] }));
  assert.deepEqual(o.list('shell', 'tools'), ['cat', 'tr']);
  assert.deepEqual(sources(o, 'shell', 'tools'), ['flag --shell-tools']);

  // On top of the default.
  o = expectOptions(resolveSample({ argv: ['--shell-tools=+["git"]'] }));
  assert.deepEqual(o.list('shell', 'tools'), ['bash', 'git']);
  assert.deepEqual(sources(o, 'shell', 'tools'), ['default', 'flag --shell-tools']);
});

test('lists: a comma inside a member does not split +[...],-[...]', () => {
  const o = expectOptions(resolveSample({ argv: ["--shell-tools=+['a],+[b', 'c'],-['bash']"] }));
  assert.deepEqual(o.list('shell', 'tools'), ['a],+[b', 'c']);
});

test('lists of integers', () => {
  const o = expectOptions(resolveSample({ argv: ['test', '--shard-sizes=[1, 2]', '--shard-sizes=3'], config: '[test]\nshard_sizes = [9]\n' }));
  assert.deepEqual(o.intList('test', 'shard_sizes'), [1, 2, 3]);
  const f = expectFailure(resolveSample({ argv: ['test', '--shard-sizes=x'] }));
  assert.equal(renderFailure(f), 'error: invalid value for --shard-sizes: expected a list of integers, got "x"\n');
});

test('dicts: replace, and +{...} merges over lower sources', () => {
  let o = expectOptions(resolveSample({ config: '[shell]\nenv = { B = "2" }\n' }));
  assert.deepEqual(o.dict('shell', 'env'), { B: '2' });
  o = expectOptions(resolveSample({ config: '[shell]\nenv = "+{\'B\': \'2\'}"\n', argv: ["--shell-env=+{'C': '3', 'A': 'x'}"] }));
  assert.deepEqual(o.dict('shell', 'env'), { A: 'x', B: '2', C: '3' });
  assert.deepEqual(sources(o, 'shell', 'env'), ['default', 'trews.toml:2', 'flag --shell-env']);
  o = expectOptions(resolveSample({ config: '[shell]\nenv = { B = "2" }\n', env: { TREWS_SHELL_ENV: "{'Z': '9'}" } }));
  assert.deepEqual(o.dict('shell', 'env'), { Z: '9' });
  assert.deepEqual(sources(o, 'shell', 'env'), ['env TREWS_SHELL_ENV']);
});

test('resolved values cannot be mutated by their readers', () => {
  const o = expectOptions(resolveSample({ argv: ['--shell-tools=+["git"]'] }));
  assert.throws(() => (o.list('shell', 'tools') as string[]).push('x'));
  assert.throws(() => {
    (o.dict('shell', 'env') as Record<string, unknown>)['x'] = 1;
  });
});

test('wrong type from a flag names the flag and the expected type', () => {
  const cases: [string[], string][] = [
    [['test', '--timeout=soon'], 'error: invalid value for --timeout: expected an integer, got "soon"\n'],
    [['--test-ratio=fast'], 'error: invalid value for --test-ratio: expected a number, got "fast"\n'],
    [['--remote-execution=yes'], 'error: invalid value for --remote-execution: expected a boolean (true or false), got "yes"\n'],
    [['test', '--output=some'], 'error: invalid value for --output: expected one of all, failed, none, got "some"\n'],
    [['--shell-env=A=1'], "error: invalid value for --shell-env: expected a dict, got \"A=1\" (write {'key': 'value'}, or +{...} to merge)\n"],
  ];
  for (const [argv, want] of cases) {
    const f = expectFailure(resolveSample({ argv }));
    assert.equal(renderFailure(f), want);
    assert.equal(f.exitCode, 2);
  }
});

test('wrong type from env names the variable', () => {
  const f = expectFailure(resolveSample({ env: { TREWS_REMOTE_SERVER_WORKERS: 'many' } }));
  assert.equal(renderFailure(f), 'error: invalid value for env TREWS_REMOTE_SERVER_WORKERS: expected an integer, got "many"\n');
  const g = expectFailure(resolveSample({ env: { TREWS_LEVEL: 'loud' } }));
  assert.equal(renderFailure(g), 'error: invalid value for env TREWS_LEVEL: expected one of trace, debug, info, warn, error, got "loud"\n');
});

test('validation runs on the merged value and names every contributing source', () => {
  const f = expectFailure(
    resolveSample({
      config: '[GLOBAL]\nremote_execution_extra_platform_properties = ["OSFamily=linux"]\n',
      argv: ['--remote-execution-extra-platform-properties=container-image'],
    }),
  );
  assert.equal(
    renderFailure(f),
    'error: invalid value for --remote-execution-extra-platform-properties: "container-image" is not KEY=VALUE\n' +
      '  set by trews.toml:2, flag --remote-execution-extra-platform-properties\n',
  );
  const g = expectFailure(resolveSample({ config: '[GLOBAL]\nlocal_store_max_size = "lots"\n' }));
  assert.equal(
    renderFailure(g),
    'error: trews.toml:2: invalid value for --local-store-max-size: "lots" is not a size such as 10GiB, 500MB or 1048576\n  set by trews.toml:2\n',
  );
  const h = expectFailure(resolveSample({ env: { TREWS_PROCESS_EXECUTION_LOCAL_PARALLELISM: '0' } }));
  assert.equal(
    renderFailure(h),
    'error: invalid value for --process-execution-local-parallelism: must be at least 1, got 0\n  set by env TREWS_PROCESS_EXECUTION_LOCAL_PARALLELISM\n',
  );
});

test('typed getters throw on misuse, which is a bug in the caller', () => {
  const o = expectOptions(resolveSample());
  assert.throws(() => o.bool(GLOBAL, 'nope'), /not registered/);
  assert.throws(() => o.int(GLOBAL, 'remote_execution'), /is a bool option, read as int/);
  assert.throws(() => o.string(GLOBAL, 'remote_store_server'), /read it with a maybe\* getter/);
  assert.throws(() => o.list('test', 'shard_sizes'), /intList/);
  assert.throws(() => o.intList('shell', 'tools'), /read it with list/);
  assert.equal(o.maybeInt(GLOBAL, 'process_execution_local_parallelism'), null);
  assert.equal(o.get(GLOBAL, 'remote_store_address'), null, 'aliases work in get');
});

test('the command line is kept on the options', () => {
  const o = expectOptions(resolveSample({ argv: ['test', 'src::', '--', 'a'] }));
  assert.deepEqual(o.commandLine.goals, ['test']);
  assert.deepEqual(o.commandLine.specs, ['src::']);
  assert.deepEqual(o.commandLine.passthrough, ['a']);
});

test('list and dict text that does not parse quotes the whole value and the parser reason', () => {
  // The reason's wording belongs to build-files; only its presence is asserted here.
  const cases: [string, string][] = [
    ["--shell-tools=+['a'],-[b]", `error: invalid value for --shell-tools: expected a list of strings, got "+['a'],-[b]": `],
    ["--shell-tools=['a'", `error: invalid value for --shell-tools: expected a list of strings, got "['a'": `],
    ["--shell-env={'a': }", `error: invalid value for --shell-env: expected a dict, got "{'a': }": `],
    ["--shell-env=+{'a'}", `error: invalid value for --shell-env: expected a dict, got "+{'a'}": `],
  ];
  for (const [flag, prefix] of cases) {
    const text = renderFailure(expectFailure(resolveSample({ argv: [flag] })));
    assert.ok(text.startsWith(prefix) && /: \S.*\n$/.test(text.slice(prefix.length - 2)), text);
  }
  assert.equal(
    renderFailure(expectFailure(resolveSample({ argv: ['--shell-tools=+[1]'] }))),
    'error: invalid value for --shell-tools: expected a list of strings, got "+[1]": member 1 is not a string\n',
  );
});
