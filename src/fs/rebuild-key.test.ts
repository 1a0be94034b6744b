import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AbsPath } from '../core/index.js';
import { createEngine, createKeyRebuilders, type Key } from '../engine/index.js';
import { BuildDirsUnderKey, BuildFilesInDirKey } from './build-file-discovery.js';
import { DirEntriesKey } from './dir-entries.js';
import { FileTextKey, RealFileTextKey } from './file-content.js';
import { FileDigestKey, RealFileDigestKey } from './file-digest.js';
import { IgnoreRulesKey } from './ignore-rules.js';
import { FilesUnderKey, ListingKey } from './listing.js';
import { PathKindKey } from './path-stat.js';
import { RealPathKey } from './real-path.js';
import { fsKeyRebuilders } from './rebuild-key.js';
import type { Workspace } from './workspace.js';

describe('file-system keys come back from their ids', () => {
  let root = '';
  after(() => rm(root, { recursive: true, force: true }));

  it('every key of this folder, with a path or composed over them: same id, same path, same value (a stub could not compute)', async () => {
    root = await mkdtemp(join(tmpdir(), 'trews-rebuild-'));
    await mkdir(join(root, 'pkg: odd/src'), { recursive: true });
    await writeFile(join(root, 'pkg: odd/src/a.ts'), 'export {};\n');
    await writeFile(join(root, 'pkg: odd/BUILD'), '');
    await writeFile(join(root, '.gitignore'), 'dist/\n');
    const ws: Workspace = { root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: true } };
    const { rebuild } = createKeyRebuilders(fsKeyRebuilders(ws));
    const dir = 'pkg: odd';
    const file = 'pkg: odd/src/a.ts';
    const keys: Key<unknown>[] = [
      new DirEntriesKey(ws, dir),
      new RealFileDigestKey(ws, file),
      new RealFileTextKey(ws, file, file, 'utf8-strict'),
      new ListingKey(ws, dir),
      new IgnoreRulesKey(ws, dir),
      new RealPathKey(ws, file),
      new FileDigestKey(ws, file),
      new FilesUnderKey(ws, dir),
      new PathKindKey(ws, file),
      new BuildFilesInDirKey(ws, dir),
      new BuildDirsUnderKey(ws, ''),
      new FileTextKey(ws, file, 'utf8-lenient'),
    ];
    const engine = createEngine();
    const again = createEngine();
    for (const key of keys) {
      const back = rebuild(key.id, key.path);
      assert.ok(back !== undefined, `${key.id} comes back`);
      assert.equal(back.id, key.id);
      assert.equal((back as Key<unknown>).path, key.path, `${key.id}: its path`);
      const [run, run2] = [engine.startRun(), again.startRun()];
      assert.deepEqual(await run2.get(back as Key<unknown>), await run.get(key), `${key.id}: the same value`);
      run.end();
      run2.end();
    }
  });

  it('an id another key of the kind would not make is not taken for one', () => {
    const ws: Workspace = { root: '/nowhere' as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: false } };
    const { rebuild } = createKeyRebuilders(fsKeyRebuilders(ws));
    assert.equal(rebuild('file-text:binary:a.txt', undefined), undefined);
    assert.equal(rebuild('listing:a', 'a'), undefined, 'a listing has no path of its own');
  });
});
