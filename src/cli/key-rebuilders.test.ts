// The App's key rebuilders (app.ts): every layer's, assembled by id kind, for
// a graph a run without a daemon kept. test/persisted-graph.test.ts checks
// that real runs leave no transient, input or file-system key as a stub.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { allBackends } from '../backends/index.js';
import { nullLogger } from '../core/index.js';
import { allGoals } from '../goals/index.js';
import { parseCommandLine, resolveOptions, type Options } from '../options/index.js';
import { createApp, fsRulesFrom } from './app.js';
import { buildRegistry } from './registry.js';

const dir = mkdtempSync(join(tmpdir(), 'trews-rebuilders-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function options(): Options {
  const registry = buildRegistry(allGoals(), allBackends());
  const cl = parseCommandLine([], registry);
  assert.ok(cl.ok);
  const r = resolveOptions({ registry, commandLine: cl.value, env: {}, config: null, buildRoot: dir, homeDir: dir });
  assert.ok(r.ok);
  return r.value;
}

describe('the App\'s key rebuilders', () => {
  const opts = options();
  const app = createApp(dir, fsRulesFrom(opts), join(dir, 'store'), allBackends(), nullLogger);
  const rebuilders = app.keyRebuilders(opts);

  it('has one rebuilder per kind, from every layer that owns a key that computes on its own', () => {
    for (const kind of ['dir-entries:', 'real-file-digest:', 'real-file-text:', 'host-platform', 'remote-execution-server-set', 'env:', 'env-prefix:', 'options:', 'tool-lookup:', 'tool-digest:', 'system-binary:', 'program-version:']) {
      assert.ok(rebuilders.kinds.has(kind), `a rebuilder for ${kind}`);
    }
  });

  it('gives back a key with the id (and path) it was given, of the right sort', () => {
    const cases: Array<[string, string | undefined, 'key' | 'input']> = [
      ['dir-entries:a/b', 'a/b', 'key'],
      ['real-file-digest:a/x.txt', 'a/x.txt', 'key'],
      ['real-file-text:utf8-strict:a/BUILD', 'a/BUILD', 'key'],
      ['real-file-text:utf8-lenient:real/x:link/x', 'real/x', 'key'],
      ['host-platform', undefined, 'input'],
      ['remote-execution-server-set', undefined, 'input'],
      ['env:FLAVOUR', undefined, 'input'],
      ['env-prefix:NEXT_PUBLIC_', undefined, 'input'],
      ['options:shell', undefined, 'input'],
      ['tool-lookup:["cat",["/usr/bin","/bin"]]', undefined, 'key'],
      ['tool-digest:/usr/bin/cat', undefined, 'key'],
      ['system-binary:["a/b","un",null]', undefined, 'key'],
      ['system-binary:["","un",null]', undefined, 'key'],
      ['program-version:["/usr/lib/node_modules/npm/bin/npm-cli.js",["npm"]]', undefined, 'key'],
    ];
    for (const [id, path, sort] of cases) {
      const key = rebuilders.rebuild(id, path);
      assert.ok(key !== undefined, `rebuilt ${id}`);
      assert.equal(key.id, id);
      assert.equal('readFrom' in key ? 'input' : 'key', sort, id);
      if (!('readFrom' in key)) assert.equal(key.path, path, id);
    }
  });

  it('reads no id it cannot read back, nor an input rules may not read', () => {
    for (const [id, path] of [
      ['env:PWD', undefined],
      ['options:GLOBAL', undefined],
      ['options:no-such-scope', undefined],
      ['tool-lookup:cat:/usr/bin', undefined],
      ['system-binary:a:un', undefined],
      ['system-binary:["a",1,null]', undefined],
      ['real-file-text:utf8-strict:a/BUILD', 'b/BUILD'],
      ['dir-entries:a', undefined],
      ['js-install', undefined],
    ] as const) {
      assert.equal(rebuilders.rebuild(id, path), undefined, id);
    }
  });
});
