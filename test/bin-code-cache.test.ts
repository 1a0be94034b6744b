// bin/trews.cjs runs its bundles through a V8 code cache kept beside them. V8
// accepts cached code for any source of the same length, so the cache must be
// tied to the source's content: a rebuild or an upgrade that changes a bundle
// without changing its length (`!0` → `!1`) must run the new code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from './helpers/index.js';

describe('bin/trews.cjs code cache', () => {
  const root = mkdtempSync(join(tmpdir(), 'trews-bin-cache-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  const client = (word: string): string => `exports.clientMain = () => { process.stdout.write(${JSON.stringify(word)}); };\n`;
  const run = (): string => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'trews.cjs')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  it('runs a rebuilt bundle of the same length, not the cached code of the old one', () => {
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'dist'));
    copyFileSync(join(repoRoot(), 'bin', 'trews.cjs'), join(root, 'bin', 'trews.cjs'));
    copyFileSync(join(repoRoot(), 'bin', 'package.json'), join(root, 'bin', 'package.json'));
    writeFileSync(join(root, 'dist', 'trews-client.cjs'), client('old!'));
    assert.equal(run(), 'old!');
    assert.ok(existsSync(join(root, 'dist', 'trews-client.cjs.v8cache')), 'the first run writes the cache');
    assert.equal(run(), 'old!');
    writeFileSync(join(root, 'dist', 'trews-client.cjs'), client('new!'));
    assert.equal(run(), 'new!');
    assert.equal(run(), 'new!');
  });
});
