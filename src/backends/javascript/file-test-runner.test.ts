import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileTestRunner } from './file-test-runner.js';
import type { PackageManifest } from './package-json.js';
import { compiledPath, type PackageBuild } from './test-closure.js';

const at = { file: 'packages/a/package.json', line: 1, col: 1 };

function manifest(test: string | undefined, deps: Record<string, string> = {}): PackageManifest {
  return {
    path: 'packages/a/package.json',
    dir: 'packages/a',
    name: 'a',
    version: '1.0.0',
    private: false,
    at,
    scripts: test === undefined ? [] : [{ name: 'test', command: test, at }],
    dependencies: Object.entries(deps).map(([name, range]) => ({ name, range, field: 'devDependencies', at })),
    workspaces: null,
    workspacesProblem: null,
    packageManager: null,
  } as PackageManifest;
}

describe('fileTestRunner', () => {
  test('`node --test dist/` runs compiled files: node without a loader reads no TypeScript, the script names dist/', () => {
    const r = fileTestRunner(manifest('node --test dist/'), null)!;
    assert.equal(r.name, 'node');
    assert.deepEqual(r.paths, ['dist/']);
    assert.equal(r.readsTypeScript, false);
  });

  test('`tsx --test` and `node --import tsx --test` read TypeScript as it is; so do vitest and jest', () => {
    assert.equal(fileTestRunner(manifest('tsx --test'), null)!.readsTypeScript, true);
    assert.equal(fileTestRunner(manifest('node --import tsx --test src/'), null)!.readsTypeScript, true);
    assert.equal(fileTestRunner(manifest('vitest run'), null)!.readsTypeScript, true);
    assert.equal(fileTestRunner(manifest('jest --ci'), null)!.name, 'jest');
  });

  test('a script that runs no known runner has none, unless one is configured (then without the script\'s flags)', () => {
    assert.equal(fileTestRunner(manifest('make check'), null), null);
    assert.equal(fileTestRunner(manifest(undefined), null), null);
    const configured = fileTestRunner(manifest('node --test --test-concurrency=1 dist/'), 'vitest')!;
    assert.equal(configured.name, 'vitest');
    assert.deepEqual(configured.paths, []);
    assert.ok(!configured.command(['src/x.test.ts'], { reportFile: '.trews-test/report' }).argv.includes('--test-concurrency=1'));
  });
});

describe('compiledPath', () => {
  const b: PackageBuild = { dir: 'packages/a', script: undefined, rootDir: 'packages/a/src', outDir: 'packages/a/dist', outputs: ['packages/a/dist/**'] };
  test('maps a source under rootDir to its output under outDir, by TypeScript\'s extensions', () => {
    assert.equal(compiledPath(b, 'packages/a/src/x.test.ts'), 'packages/a/dist/x.test.js');
    assert.equal(compiledPath(b, 'packages/a/src/deep/y.mts'), 'packages/a/dist/deep/y.mjs');
    assert.equal(compiledPath(b, 'packages/a/src/z.tsx'), 'packages/a/dist/z.js');
  });
  test('nothing for a file outside rootDir or a declaration', () => {
    assert.equal(compiledPath(b, 'packages/a/test/x.test.ts'), undefined);
    assert.equal(compiledPath(b, 'packages/a/src/types.d.ts'), undefined);
  });
});
