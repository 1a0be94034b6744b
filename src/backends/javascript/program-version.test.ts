import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { rebuildProgramVersionKey } from './nodejs.js';

describe('rebuildProgramVersionKey (a kept graph without a daemon)', () => {
  it('gives back a key with the same id that reads the version again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-pv-'));
    try {
      await mkdir(join(dir, 'npm', 'bin'), { recursive: true });
      await writeFile(join(dir, 'npm', 'package.json'), JSON.stringify({ name: 'npm', version: '10.1.0' }));
      await writeFile(join(dir, 'npm', 'bin', 'npm-cli.js'), '');
      const id = `program-version:${JSON.stringify([join(dir, 'npm', 'bin', 'npm-cli.js'), ['npm']])}`;
      const key = rebuildProgramVersionKey(id);
      assert.ok(key !== undefined);
      assert.equal(key.id, id);
      assert.equal(key.isTransient(), true);
      assert.deepEqual(await key.compute(), { version: '10.1.0', dir: await realpath(join(dir, 'npm')) });
      // Transient: a new version on the machine is read by the next run's compute.
      await writeFile(join(dir, 'npm', 'package.json'), JSON.stringify({ name: 'npm', version: '10.2.0' }));
      assert.equal((await key.compute())?.version, '10.2.0');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads no other id, and no damaged one', () => {
    assert.equal(rebuildProgramVersionKey('tool-lookup:["npm",["/usr/bin"]]'), undefined);
    assert.equal(rebuildProgramVersionKey('program-version:/usr/bin/npm:npm'), undefined);
    assert.equal(rebuildProgramVersionKey('program-version:[1,["npm"]]'), undefined);
  });
});
