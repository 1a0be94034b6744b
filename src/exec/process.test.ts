import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestOf, isFailureError } from '../core/index.js';
import { EMPTY_INPUT_ROOT, isCacheableResult, makeProcess, validateProcess, type ProcessInit } from './process.js';
import type { Process } from './types.js';

function reasonOf(init: ProcessInit): string | undefined {
  try {
    makeProcess(init);
    return undefined;
  } catch (e) {
    assert.ok(isFailureError(e), String(e));
    assert.equal(e.failure.tag, 'internal');
    return e.failure.reason;
  }
}

test('defaults: empty env and input root, root working directory, no outputs or timeout, scope successful', () => {
  const p = makeProcess({ argv: ['true'] });
  assert.deepEqual(p.env, {});
  assert.deepEqual(p.inputRoot, EMPTY_INPUT_ROOT);
  assert.equal(EMPTY_INPUT_ROOT.sizeBytes, 0);
  assert.equal(p.workingDirectory, '');
  assert.deepEqual(p.outputFiles, []);
  assert.deepEqual(p.outputDirectories, []);
  assert.equal(p.timeoutMs, null);
  assert.equal(p.cacheScope, 'successful');
  assert.equal(p.description, 'true');
  assert.ok(Object.isFrozen(p) && Object.isFrozen(p.argv) && Object.isFrozen(p.env));
});

test('argv must name a program', () => {
  assert.equal(reasonOf({ argv: [] }), 'process-empty-argv');
  assert.equal(reasonOf({ argv: [''] }), 'process-empty-program');
  assert.equal(reasonOf({ argv: ['echo', 'a\0b'] }), 'process-invalid-argument');
});

test('output paths and the working directory are normalized relative paths', () => {
  for (const p of ['/abs', '../up', 'a/../b', './a', 'a//b', 'a/', '']) {
    assert.equal(reasonOf({ argv: ['true'], outputFiles: [p] }), 'process-invalid-output-path', `output file ${JSON.stringify(p)}`);
  }
  for (const p of ['/abs', '../up', 'a/./b', 'a/']) {
    assert.equal(reasonOf({ argv: ['true'], outputDirectories: [p] }), 'process-invalid-output-path', `output directory ${JSON.stringify(p)}`);
    assert.equal(reasonOf({ argv: ['true'], workingDirectory: p }), 'process-invalid-working-directory', `working directory ${JSON.stringify(p)}`);
  }
  assert.equal(reasonOf({ argv: ['true'], outputDirectories: [''] }), undefined, "'' is the whole working directory");
  assert.equal(reasonOf({ argv: ['true'], outputFiles: ['x'], outputDirectories: ['x'] }), 'process-invalid-output-path');
  assert.equal(reasonOf({ argv: ['true'], outputFiles: ['a/b.txt'], outputDirectories: ['c/d'], workingDirectory: 'src/app' }), undefined);
});

test('env names and values must be passable to execve', () => {
  assert.equal(reasonOf({ argv: ['true'], env: { '': 'x' } }), 'process-invalid-env');
  assert.equal(reasonOf({ argv: ['true'], env: { 'A=B': 'x' } }), 'process-invalid-env');
  assert.equal(reasonOf({ argv: ['true'], env: { A: 'x\0y' } }), 'process-invalid-env');
  assert.equal(reasonOf({ argv: ['true'], env: { 'dotted.name': 'ok', EMPTY: '' } }), undefined);
});

test('timeout, platform, scope and input root are checked', () => {
  assert.equal(reasonOf({ argv: ['true'], timeoutMs: 0 }), 'process-invalid-timeout');
  assert.equal(reasonOf({ argv: ['true'], timeoutMs: 1.5 }), 'process-invalid-timeout');
  assert.equal(reasonOf({ argv: ['true'], platform: [{ name: '', value: 'x' }] }), 'process-invalid-platform');
  assert.equal(reasonOf({ argv: ['true'], cacheScope: 'sometimes' as never }), 'process-invalid-cache-scope');
  assert.equal(reasonOf({ argv: ['true'], inputRoot: { hash: 'nope', sizeBytes: 1 } as never }), 'process-invalid-input-root');
  assert.equal(reasonOf({ argv: ['true'], inputRoot: digestOf('x'), timeoutMs: 10 }), undefined);
});

test('the failure says which process and whose bug it is', () => {
  const p: Process = { ...makeProcess({ argv: ['true'], description: 'Run lint' }), argv: [] };
  const f = validateProcess(p);
  assert.ok(f);
  assert.match(f.message, /process `Run lint`: argv is empty/);
  assert.match((f.hints ?? []).join(), /bug in the rule/);
});

test('which results may be cached, by scope', () => {
  const p = (cacheScope: Process['cacheScope']): Process => makeProcess({ argv: ['true'], cacheScope });
  assert.equal(isCacheableResult(p('always'), 1, false), true);
  assert.equal(isCacheableResult(p('always'), 0, true), false);
  assert.equal(isCacheableResult(p('successful'), 0, false), true);
  assert.equal(isCacheableResult(p('successful'), 2, false), false);
  assert.equal(isCacheableResult(p('per-run'), 0, false), false);
  assert.equal(isCacheableResult(p('never'), 0, false), false);
});
