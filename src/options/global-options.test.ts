import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseByteSize, registerGlobalOptions } from './global-options.js';
import { OptionRegistry } from './registry.js';
import { GLOBAL } from './types.js';
import { expectOptions, resolveSample } from './test-support.js';

test('parseByteSize reads bytes, decimal and binary units', () => {
  assert.equal(parseByteSize('1048576'), 1048576);
  assert.equal(parseByteSize('500MB'), 500_000_000);
  assert.equal(parseByteSize('5GiB'), 5 * 2 ** 30);
  assert.equal(parseByteSize('1.5 KiB'), 1536);
  assert.equal(parseByteSize('10gib'), 10 * 2 ** 30);
  assert.equal(parseByteSize('7B'), 7);
  for (const bad of ['', 'GiB', '5 GiBs', '-1', '5XB', '1e3', '99999999999TiB']) assert.equal(parseByteSize(bad), undefined, bad);
});

test('GLOBAL options keep Pants names, types and defaults', () => {
  const r = new OptionRegistry();
  registerGlobalOptions(r);
  const o = expectOptions(resolveSample({ registry: r }));
  assert.deepEqual(o.list(GLOBAL, 'ignore'), ['.*/', '/dist/']);
  assert.equal(o.string(GLOBAL, 'local_store_max_size'), '10GiB');
  assert.equal(o.enum(GLOBAL, 'keep_sandboxes'), 'never');
  assert.equal(o.int(GLOBAL, 'process_execution_remote_parallelism'), 128);
  assert.equal(o.enum(GLOBAL, 'remote_cache_warnings'), 'backoff');
  assert.equal(o.enum(GLOBAL, 'cache_content_behavior'), 'fetch');
  assert.equal(o.float(GLOBAL, 'daemon_timeout_when_multiple_invocations'), 60);
  assert.equal(o.int(GLOBAL, 'daemon_idle_timeout'), 10800);
  assert.equal(o.maybePath(GLOBAL, 'local_store_dir'), null);
  assert.equal(r.option(GLOBAL, 'remote_execution_address')?.name, 'remote_execution_server');
  const daemonOnes = r.options(GLOBAL).filter((s) => s.daemon === true).map((s) => s.name);
  assert.deepEqual(daemonOnes, [
    'build_file_max_size',
    'build_patterns',
    'daemon_graph_idle_runs',
    'daemon_graph_max_nodes',
    'daemon_idle_timeout',
    'daemon_invalidation_globs',
    'daemon_max_memory_usage',
    'ignore',
    'ignore_use_gitignore',
    'level',
    'local_store_dir',
  ]);
  for (const s of r.options(GLOBAL)) assert.ok(s.help.length > 10 && !s.help.includes('\n'), `help of ${s.name}`);
});

test('size, parallelism and KEY=VALUE options are validated', () => {
  assert.ok(resolveSample({ argv: ['--local-store-max-size=5GiB', '--daemon-max-memory-usage=512MiB'] }).ok);
  assert.equal(resolveSample({ argv: ['--daemon-max-memory-usage=big'] }).ok, false);
  assert.equal(resolveSample({ argv: ['--process-execution-local-parallelism=0'] }).ok, false);
  assert.ok(resolveSample({ argv: ['--process-execution-local-parallelism=2'] }).ok);
  assert.ok(resolveSample({ argv: ['--remote-execution-extra-platform-properties=OSFamily=linux'] }).ok);
  assert.equal(resolveSample({ argv: ['--remote-execution-extra-platform-properties==linux'] }).ok, false);
});
