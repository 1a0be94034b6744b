// bin/trews.cjs runs its bundles through a V8 code cache kept beside them. V8
// accepts cached code for any source of the same length, so the cache must be
// tied to the source's content: a rebuild or an upgrade that changes a bundle
// without changing its length (`!0` → `!1`) must run the new code.
import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot, waitUntil } from './helpers/index.js';

describe('bin/trews.cjs code cache', () => {
  const root = mkdtempSync(join(tmpdir(), 'trews-bin-cache-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  const client = (word: string): string => `exports.clientMain = () => { process.stdout.write(${JSON.stringify(word)}); };\n`;
  const run = (): string => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'trews.cjs')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  it('the built bundles are ASCII, which V8 holds as one-byte strings (scripts/bundle.mjs: faster to read and compile on every run)', () => {
    for (const name of ['trews-client.cjs', 'trews-main.cjs']) {
      const bytes = readFileSync(join(repoRoot(), 'dist', name));
      const at = bytes.findIndex((b) => b > 0x7f);
      assert.ok(isAscii(bytes), `dist/${name} has a byte outside ASCII at ${at}: ${JSON.stringify(bytes.subarray(Math.max(0, at - 40), at + 40).toString('utf8'))}`);
    }
  });

  it('runs a rebuilt bundle of the same length, not the cached code of the old one', () => {
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'dist'));
    copyFileSync(join(repoRoot(), 'bin', 'trews.cjs'), join(root, 'bin', 'trews.cjs'));
    copyFileSync(join(repoRoot(), 'bin', 'code-cache.cjs'), join(root, 'bin', 'code-cache.cjs'));
    copyFileSync(join(repoRoot(), 'bin', 'package.json'), join(root, 'bin', 'package.json'));
    writeFileSync(join(root, 'dist', 'trews-client.cjs'), client('old!'));
    assert.equal(run(), 'old!');
    assert.ok(existsSync(join(root, 'dist', 'trews-client.cjs.v8cache')), 'the first run writes the cache');
    assert.equal(run(), 'old!');
    writeFileSync(join(root, 'dist', 'trews-client.cjs'), client('new!'));
    assert.equal(run(), 'new!');
    assert.equal(run(), 'new!');
  });

  const cache = join(root, 'dist', 'trews-client.cjs.v8cache');
  const bundle = join(root, 'dist', 'trews-client.cjs');

  it('a damaged cache (garbage after a right header, truncated, or of the old format) is rejected: the run is right and the cache is made again', () => {
    writeFileSync(bundle, client('fine'));
    assert.equal(run(), 'fine');
    const good = readFileSync(cache);
    const garbage = Buffer.from(good);
    for (let i = 72; i < garbage.length; i += 7) garbage[i] = (garbage[i]! * 31 + 17) & 0xff;
    const sha = good.subarray(16, 48);
    for (const damaged of [garbage, good.subarray(0, 60), good.subarray(0, good.length >> 1), Buffer.concat([sha, good.subarray(72)])]) {
      writeFileSync(cache, damaged);
      assert.equal(run(), 'fine');
      assert.equal(run(), 'fine');
      assert.ok(readFileSync(cache).length > 72, 'made again');
    }
    truncateSync(cache, 0);
    assert.equal(run(), 'fine');
  });

  it('once the bundle is old enough for its stat key to vouch for it, a rewrite of the same length still runs the new code', async () => {
    writeFileSync(bundle, client('aged'));
    assert.equal(run(), 'aged');
    // A key is recorded only for a file unchanged for a few seconds (a coarse clock could hide a later write).
    await waitUntil(() => Date.now() - statSync(bundle).ctimeMs > 3500, 'the bundle to age', 10_000);
    assert.equal(run(), 'aged'); // records the key
    const recorded = readFileSync(cache);
    assert.notDeepEqual(recorded.subarray(48, 72), Buffer.alloc(24), 'the stat key is recorded');
    assert.equal(run(), 'aged'); // vouched for by the key: nothing to write
    assert.deepEqual(readFileSync(cache), recorded);
    writeFileSync(bundle, client('agee'));
    assert.equal(run(), 'agee');
  });
});
