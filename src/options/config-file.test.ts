import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderFailure } from '../ui/index.js';
import { describeSource } from './source.js';
import { GLOBAL } from './types.js';
import { resolveOptions } from './resolve.js';
import { expectFailure, expectOptions, resolveSample, sampleRegistry } from './test-support.js';

const render = (config: string, env: Record<string, string> = {}): string => renderFailure(expectFailure(resolveSample({ config, env })));

test('sections: GLOBAL, goals and dashed subsystem scopes', () => {
  const o = expectOptions(
    resolveSample({
      config: [
        '# trews.toml',
        '[GLOBAL]',
        'remote_execution = true',
        'level = "debug"',
        '',
        '[test]',
        'timeout = 5',
        '',
        '[remote-server]',
        'workers = 8',
        '',
      ].join('\n'),
    }),
  );
  assert.equal(o.bool(GLOBAL, 'remote_execution'), true);
  assert.equal(describeSource(o.withSource(GLOBAL, 'remote_execution').source), 'trews.toml:3');
  assert.equal(o.enum(GLOBAL, 'level'), 'debug');
  assert.equal(describeSource(o.withSource(GLOBAL, 'level').source), 'trews.toml:4');
  assert.equal(o.int('test', 'timeout'), 5);
  assert.equal(describeSource(o.withSource('test', 'timeout').source), 'trews.toml:7');
  assert.equal(o.int('remote-server', 'workers'), 8);
  assert.equal(describeSource(o.withSource('remote-server', 'workers').source), 'trews.toml:10');
});

test('an alias sets its option; with both, the canonical name wins whatever the order', () => {
  let o = expectOptions(resolveSample({ config: '[GLOBAL]\nremote_store_address = "grpc://cas:8980"\n' }));
  assert.equal(o.maybeString(GLOBAL, 'remote_store_server'), 'grpc://cas:8980');
  assert.equal(describeSource(o.withSource(GLOBAL, 'remote_store_server').source), 'trews.toml:2');
  o = expectOptions(resolveSample({ config: '[GLOBAL]\nremote_store_server = "a:1"\nremote_store_address = "b:2"\n' }));
  assert.equal(o.maybeString(GLOBAL, 'remote_store_server'), 'a:1');
});

test('lists: arrays, "+[...]" strings and name.add / name.remove tables', () => {
  let o = expectOptions(resolveSample({ config: '[shell]\ntools = "+[\'zsh\'],-[\'bash\']"\n' }));
  assert.deepEqual(o.list('shell', 'tools'), ['zsh']);
  o = expectOptions(resolveSample({ config: '[shell]\ntools.add = ["zsh", "sed"]\ntools.remove = ["sed"]\n' }));
  assert.deepEqual(o.list('shell', 'tools'), ['bash', 'zsh']);
  assert.equal(describeSource(o.withSource('shell', 'tools').source), 'trews.toml:2');
  o = expectOptions(resolveSample({ config: '[shell.tools]\nadd = ["zsh"]\n' }));
  assert.deepEqual(o.list('shell', 'tools'), ['bash', 'zsh']);
  assert.equal(describeSource(o.withSource('shell', 'tools').source), 'trews.toml:1');
  o = expectOptions(resolveSample({ config: '[GLOBAL]\nremote_execution_extra_platform_properties = ["OSFamily=linux", "container-image=docker://x"]\n' }));
  assert.deepEqual(o.list(GLOBAL, 'remote_execution_extra_platform_properties'), ['OSFamily=linux', 'container-image=docker://x']);
});

test('dicts: inline tables, sub-tables, and "+{...}" strings', () => {
  let o = expectOptions(resolveSample({ config: '[GLOBAL]\nremote_store_headers = { "x-api-key" = "k", n = 1 }\n' }));
  assert.deepEqual(o.dict(GLOBAL, 'remote_store_headers'), { 'x-api-key': 'k', n: 1 });
  o = expectOptions(resolveSample({ config: '[GLOBAL.remote_execution_headers]\nauthorization = "Bearer t"\n' }));
  assert.deepEqual(o.dict(GLOBAL, 'remote_execution_headers'), { authorization: 'Bearer t' });
  o = expectOptions(resolveSample({ config: '[shell]\nenv = "+{\'B\': \'2\'}"\n' }));
  assert.deepEqual(o.dict('shell', 'env'), { A: '1', B: '2' });
});

test('interpolation of %(buildroot)s, %(homedir)s and %(env.VAR)s, also inside lists', () => {
  const o = expectOptions(
    resolveSample({
      config: [
        '[GLOBAL]',
        'remote_ca_certs_path = "%(buildroot)s/certs/ca.pem"',
        'local_store_dir = "%(homedir)s/.trews-store"',
        'remote_instance_name = "%(env.CI_INSTANCE)s-main"',
        'daemon_invalidation_globs = ["%(buildroot)s/tools/**"]',
        '',
      ].join('\n'),
      env: { CI_INSTANCE: 'ci' },
    }),
  );
  assert.equal(o.maybePath(GLOBAL, 'remote_ca_certs_path'), '/repo/certs/ca.pem');
  assert.equal(o.maybePath(GLOBAL, 'local_store_dir'), '/home/me/.trews-store');
  assert.equal(o.maybeString(GLOBAL, 'remote_instance_name'), 'ci-main');
  assert.deepEqual(o.list(GLOBAL, 'daemon_invalidation_globs'), ['/repo/tools/**']);
});

test('bad interpolation is an error at the value', () => {
  assert.equal(
    render('[GLOBAL]\nremote_instance_name = "%(bildroot)s/x"\n'),
    'error: trews.toml:2:24: invalid value for `remote_instance_name` in [GLOBAL]: unknown interpolation %(bildroot)s (known: %(buildroot)s, %(homedir)s, %(env.NAME)s)\n' +
      '  remote_instance_name = "%(bildroot)s/x"\n' +
      '                         ^^^^^^^^^^^^^^^^\n',
  );
  assert.equal(
    render('[GLOBAL]\nremote_instance_name = "%(env.NOPE)s"\n'),
    'error: trews.toml:2:24: invalid value for `remote_instance_name` in [GLOBAL]: %(env.NOPE)s: environment variable NOPE is not set\n' +
      '  remote_instance_name = "%(env.NOPE)s"\n' +
      '                         ^^^^^^^^^^^^^^\n',
  );
});

test('unknown section names the closest one, at its line', () => {
  assert.equal(render('[GLOBAL]\nlevel = "info"\n\n[tset]\ntimeout = 3\n'), 'error: trews.toml:4:2: unknown section [tset]\n  [tset]\n   ^^^^\n  did you mean [test]?\n');
  assert.equal(render('[remote-sever]\nworkers = 3\n'), 'error: trews.toml:1:2: unknown section [remote-sever]\n  [remote-sever]\n   ^^^^^^^^^^^^\n  did you mean [remote-server]?\n');
  assert.equal(render('[global]\nlevel = "info"\n'), 'error: trews.toml:1:2: unknown section [global]\n  [global]\n   ^^^^^^\n  did you mean [GLOBAL]?\n');
});

test('unknown key names the closest option of that section, at line and column', () => {
  assert.equal(
    render('[GLOBAL]\nlevel = "info"\n\n[test]\n  timout = 3\n'),
    'error: trews.toml:5:3: unknown option `timout` in [test]\n    timout = 3\n    ^^^^^^\n  did you mean timeout?\n',
  );
  assert.equal(
    render('[GLOBAL]\nremote_store_adress = "x"\n'),
    'error: trews.toml:2:1: unknown option `remote_store_adress` in [GLOBAL]\n  remote_store_adress = "x"\n  ^^^^^^^^^^^^^^^^^^^\n  did you mean remote_store_address?\n',
  );
  // The right name in the wrong section.
  assert.equal(
    render('[GLOBAL]\ntimeout = 3\n'),
    'error: trews.toml:2:1: unknown option `timeout` in [GLOBAL]\n  timeout = 3\n  ^^^^^^^\n  `timeout` is an option of [test]\n',
  );
});

test('a key outside any section is an error', () => {
  assert.equal(
    render('level = "debug"\n'),
    'error: trews.toml:1:1: `level` is not in a section\n  level = "debug"\n  ^^^^^\n  put it under [GLOBAL] or under the section of the goal or subsystem it belongs to\n',
  );
});

test('wrong value types name the option, the expected type and the location', () => {
  assert.equal(
    render('[test]\ntimeout = "soon"  # seconds\n'),
    'error: trews.toml:2:11: invalid value for `timeout` in [test]: expected an integer, got "soon"\n  timeout = "soon"  # seconds\n            ^^^^^^\n',
  );
  assert.equal(
    render('[test]\ntimeout = 1.5\n'),
    'error: trews.toml:2:11: invalid value for `timeout` in [test]: expected an integer, got 1.5\n  timeout = 1.5\n            ^^^\n',
  );
  assert.equal(
    render('[GLOBAL]\nremote_execution = 1\n'),
    'error: trews.toml:2:20: invalid value for `remote_execution` in [GLOBAL]: expected a boolean (true or false), got 1\n  remote_execution = 1\n                     ^\n',
  );
  assert.equal(
    render('[GLOBAL]\nkeep_sandboxes = "sometimes"\n'),
    'error: trews.toml:2:18: invalid value for `keep_sandboxes` in [GLOBAL]: expected one of never, on_failure, always, got "sometimes"\n  keep_sandboxes = "sometimes"\n                   ^^^^^^^^^^^\n',
  );
  assert.equal(
    render('[shell]\ntools = [1, 2]\n'),
    'error: trews.toml:2:9: invalid value for `tools` in [shell]: expected a list of strings, got [1,2]: member 1 is not a string\n  tools = [1, 2]\n          ^^^^^^\n',
  );
  assert.equal(
    render('[shell]\ntools.append = ["x"]\n'),
    'error: trews.toml:2:16: invalid value for `tools` in [shell]: expected a list of strings or a table with `add` and/or `remove`, got {"append":["x"]}\n  tools.append = ["x"]\n                 ^^^^^\n',
  );
  assert.equal(
    render('[shell]\nenv = ["A=1"]\n'),
    'error: trews.toml:2:7: invalid value for `env` in [shell]: expected a dict, got ["A=1"]\n  env = ["A=1"]\n        ^^^^^^^\n',
  );
});

test('TOML syntax errors give the line and column smol-toml reports, no stack', () => {
  assert.equal(render('[GLOBAL]\nlevel = = "info"\n'), 'error: trews.toml:2:9: invalid TOML: invalid value\n  level = = "info"\n          ^\n');
  assert.equal(
    render('[GLOBAL]\nlevel = "a"\nlevel = "b"\n'),
    'error: trews.toml:3:1: invalid TOML: trying to redefine an already defined table or value\n  level = "b"\n  ^\n',
  );
});

test('TOML errors say what was likely meant: an unquoted string, an unclosed string or section header', () => {
  assert.equal(
    render('[GLOBAL]\nlevel = debug # more\n'),
    'error: trews.toml:2:9: invalid TOML: the value of `level` is not quoted\n  level = debug # more\n          ^^^^^\n  (the TOML parser says: invalid value)\n  strings in TOML are quoted: `level = "debug"` (numbers and true/false are written bare)\n',
  );
  assert.match(render('[GLOBAL]\nignore = [a, "b"]\n'), /`a` in the list `ignore` is not quoted\n[\s\S]*`ignore = \["a", "b"\]`/);
  assert.match(render('[GLOBAL]\nlevel = "debug\n'), /the string value of `level` is not closed/);
  assert.match(render('[GLOBAL\nlevel = "info"\n'), /^error: trews.toml:1:1: invalid TOML: the section header `\[GLOBAL` is not closed\n[\s\S]*write it as `\[GLOBAL\]`/);
});

test('a config path outside the build root is shown as given', () => {
  const registry = sampleRegistry();
  const r = resolveOptions({
    registry,
    commandLine: { goals: [], specs: [], passthrough: [], flags: [] },
    env: {},
    config: { path: '/etc/trews/shared.toml', text: '[test]\ntimeout = 2\n' },
    buildRoot: '/repo',
    homeDir: '/home/me',
  });
  assert.equal(describeSource(expectOptions(r).withSource('test', 'timeout').source), '/etc/trews/shared.toml:2');
});
