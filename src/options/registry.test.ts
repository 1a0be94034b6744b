import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionRegistry } from './registry.js';
import { GLOBAL } from './types.js';
import { sampleRegistry } from './test-support.js';

test('GLOBAL exists from the start and scopes list sorted with GLOBAL first', () => {
  const r = new OptionRegistry();
  r.registerScope({ name: 'test', help: '', isGoal: true });
  r.registerScope({ name: 'remote-server', help: '', isGoal: false });
  r.registerScope({ name: 'list', help: '', isGoal: true });
  assert.deepEqual(
    r.scopes().map((s) => s.name),
    ['GLOBAL', 'list', 'remote-server', 'test'],
  );
  assert.deepEqual(
    r.goals().map((s) => s.name),
    ['list', 'test'],
  );
  assert.equal(r.isGoal('remote-server'), false);
  assert.equal(r.isGoal('test'), true);
});

test('options list sorted by name; lookup by name or alias returns the same spec', () => {
  const r = sampleRegistry();
  const names = r.options(GLOBAL).map((o) => o.name);
  assert.deepEqual(names, [...names].sort());
  assert.ok(names.includes('remote_store_server'));
  assert.ok(!names.includes('remote_store_address'), 'aliases are not listed as options');
  assert.equal(r.option(GLOBAL, 'remote_store_address'), r.option(GLOBAL, 'remote_store_server'));
  assert.equal(r.option('test', 'nope'), undefined);
  assert.equal(r.option('nope', 'timeout'), undefined);
});

test('registration rejects bad specs', () => {
  const r = new OptionRegistry();
  r.registerScope({ name: 'test', help: '', isGoal: true });
  r.register({ scope: GLOBAL, name: 'level', type: 'string', default: 'x', help: '', aliases: ['lvl'] });
  const bad: [string, () => void, RegExp][] = [
    ['unknown scope', () => r.register({ scope: 'nope', name: 'x', type: 'bool', default: false, help: '' }), /scope nope is not registered/],
    ['not snake_case', () => r.register({ scope: GLOBAL, name: 'camelCase', type: 'bool', default: false, help: '' }), /not snake_case/],
    ['dashes', () => r.register({ scope: GLOBAL, name: 'a-b', type: 'bool', default: false, help: '' }), /not snake_case/],
    ['duplicate name', () => r.register({ scope: GLOBAL, name: 'level', type: 'bool', default: false, help: '' }), /already an option/],
    ['name equal to an alias', () => r.register({ scope: GLOBAL, name: 'lvl', type: 'bool', default: false, help: '' }), /already an option/],
    ['alias equal to a name', () => r.register({ scope: GLOBAL, name: 'other', aliases: ['level'], type: 'bool', default: false, help: '' }), /already an option/],
    ['bool default not bool', () => r.register({ scope: GLOBAL, name: 'b', type: 'bool', default: 'yes', help: '' }), /not a boolean/],
    ['int default a float', () => r.register({ scope: GLOBAL, name: 'i', type: 'int', default: 1.5, help: '' }), /not an integer/],
    ['list default null', () => r.register({ scope: GLOBAL, name: 'l', type: 'list', default: null, help: '' }), /null is allowed only/],
    ['list default with a number', () => r.register({ scope: GLOBAL, name: 'l', type: 'list', default: [1], help: '' }), /not a string/],
    ['dict default a list', () => r.register({ scope: GLOBAL, name: 'd', type: 'dict', default: [], help: '' }), /not a dict/],
    ['enum without choices', () => r.register({ scope: GLOBAL, name: 'e', type: 'enum', default: 'a', help: '' }), /needs choices/],
    ['enum default not a choice', () => r.register({ scope: GLOBAL, name: 'e', type: 'enum', choices: ['a', 'b'], default: 'c', help: '' }), /not one of the choices a, b/],
    ['default fails validation', () => r.register({ scope: GLOBAL, name: 'v', type: 'int', default: 0, help: '', validate: () => 'nope' }), /rejected by its own validation/],
    // `--test-timeout` would mean both GLOBAL test_timeout and test's timeout.
    ['flag collision', () => {
      r.register({ scope: 'test', name: 'timeout', type: 'int', default: 1, help: '' });
      r.register({ scope: GLOBAL, name: 'test_timeout', type: 'int', default: 1, help: '' });
    }, /flag --test-timeout .* already used by test.timeout/],
    ['no- collision', () => {
      r.register({ scope: GLOBAL, name: 'cache', type: 'bool', default: true, help: '' });
      r.register({ scope: GLOBAL, name: 'no_cache', type: 'bool', default: true, help: '' });
    }, /flag --no-cache/],
    ['duplicate scope', () => r.registerScope({ name: 'test', help: '', isGoal: true }), /registered twice/],
    ['bad scope name', () => r.registerScope({ name: 'Remote_Server', help: '', isGoal: false }), /lower-case words joined by dashes/],
  ];
  for (const [what, f, re] of bad) assert.throws(f, re, what);
  // A failed registration leaves no trace.
  assert.equal(r.option(GLOBAL, 'camelCase'), undefined);
  assert.equal(r.option(GLOBAL, 'test_timeout'), undefined);
});
