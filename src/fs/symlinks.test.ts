import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FailureError, type AbsPath } from '../core/index.js';
import { createEngine, type Engine } from '../engine/index.js';
import {
  BuildDirsUnderKey,
  FileDigestKey,
  FilesUnderKey,
  FileTextKey,
  GlobKey,
  ListingKey,
  PathKindKey,
  RealPathKey,
  MAX_SYMLINK_HOPS,
  type Workspace,
} from './index.js';

async function tree(files: Record<string, string>, links: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'trews-links-'));
  for (const [p, t] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), t);
  }
  for (const [p, target] of Object.entries(links)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await symlink(target, join(root, p));
  }
  return root;
}

const ws = (root: string): Workspace => ({ root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: ['.*/', '/dist/'], useGitignore: true } });

async function failureOf(p: Promise<unknown>): Promise<{ reason: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FailureError) return e.failure;
    throw e;
  }
  assert.fail('expected a failure');
}

describe('real paths', () => {
  let root: string;
  let outside: string;
  before(async () => {
    outside = await mkdtemp(join(tmpdir(), 'trews-outside-'));
    await writeFile(join(outside, 'secret'), 'secret');
    root = await tree(
      { 'real/a.txt': 'a', 'real/sub/b.txt': 'b', 'file.txt': 'f' },
      {
        'link': 'real',
        'abs': 'placeholder', // replaced below: an absolute link inside the root
        'chain': 'link/sub',
        'up/in': '../real',
        'out': outside,
        'dotdot': '../..',
        'deep/out': '../../../../../../etc',
        'self': '.',
        'loop1': 'loop2',
        'loop2': 'loop1',
        'through-file': 'file.txt/x',
        'dangling': 'nope',
      },
    );
    await unlink(join(root, 'abs'));
    await symlink(join(root, 'real'), join(root, 'abs'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  const real = (path: string) => createEngine().startRun().get(new RealPathKey(ws(root), path));

  it('follows links inside the root: relative, absolute, chained, with `..`, and to `.`', async () => {
    assert.deepEqual(await real('link/a.txt'), { type: 'found', path: 'real/a.txt', kind: 'file' });
    assert.deepEqual(await real('abs/sub/b.txt'), { type: 'found', path: 'real/sub/b.txt', kind: 'file' });
    assert.deepEqual(await real('chain/b.txt'), { type: 'found', path: 'real/sub/b.txt', kind: 'file' });
    assert.deepEqual(await real('up/in/a.txt'), { type: 'found', path: 'real/a.txt', kind: 'file' });
    assert.deepEqual(await real('self/self/self/file.txt'), { type: 'found', path: 'file.txt', kind: 'file' });
    assert.deepEqual(await real('real'), { type: 'found', path: 'real', kind: 'dir' });
  });

  it('reports a link out of the root by its path and target, absolute or by `..`', async () => {
    assert.deepEqual(await real('out/secret'), { type: 'outside', link: 'out', target: outside });
    assert.deepEqual(await real('dotdot'), { type: 'outside', link: 'dotdot', target: '../..' });
    assert.deepEqual(await real('deep/out/passwd'), { type: 'outside', link: 'deep/out', target: '../../../../../../etc' });
  });

  it('reports loops, and treats dangling links and paths through files as missing', async () => {
    assert.deepEqual(await real('loop1/x'), { type: 'loop', link: 'loop1' });
    assert.equal(MAX_SYMLINK_HOPS, 40);
    assert.deepEqual(await real('dangling'), { type: 'missing' });
    assert.deepEqual(await real('through-file'), { type: 'missing' });
    assert.deepEqual(await real('file.txt/x'), { type: 'missing' });
  });

  it('path kinds, digests and texts through links; out of the root or in a loop they are failures naming the link', async () => {
    const run = createEngine().startRun();
    assert.equal(await run.get(new PathKindKey(ws(root), 'link/sub')), 'dir');
    assert.equal((await run.get(new FileDigestKey(ws(root), 'link/a.txt')))?.digest.sizeBytes, 1);
    assert.equal(await run.get(new FileTextKey(ws(root), 'chain/b.txt')), 'b');
    const f = await failureOf(run.get(new FileDigestKey(ws(root), 'out/secret')));
    assert.equal(f.reason, 'symlink-outside-root');
    assert.equal(f.message, `\`out\` is a symlink to ${JSON.stringify(outside)}, outside the build root`);
    assert.equal((await failureOf(run.get(new FileTextKey(ws(root), 'out/secret')))).reason, 'symlink-outside-root');
    assert.equal((await failureOf(run.get(new PathKindKey(ws(root), 'loop2')))).reason, 'symlink-loop');
  });
});

describe('walks and listings with symlinks', () => {
  let root: string;
  before(async () => {
    root = await tree(
      {
        'pkgs/lib/BUILD': '',
        'pkgs/lib/src/x.txt': 'x',
        'notes.txt': 'n',
        'dist/built.txt': 'd',
      },
      {
        // An npm workspace's links, three links to `.`, one to `/`.
        'node_modules/lib': '../pkgs/lib',
        'a': '.',
        'b': '.',
        'c': '.',
        'slash': '/',
        'alias.txt': 'notes.txt',
        'built-alias.txt': 'dist/built.txt',
        'git-alias': '.git/config',
        'passwd.txt': '/etc/passwd',
        'loop.txt': 'loop.txt',
      },
    );
    await mkdir(join(root, '.git'));
    await writeFile(join(root, '.git/config'), '');
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('lists a link to a file as a file and a link to a directory as neither (walks do not descend into it)', async () => {
    const l = await createEngine().startRun().get(new ListingKey(ws(root), ''));
    assert.deepEqual(l.dirs, ['node_modules', 'pkgs']);
    assert.deepEqual(l.files, ['alias.txt', 'notes.txt']);
    // Out of the root, whatever they point at: nothing there is looked at.
    assert.deepEqual(l.escapes, [
      { name: 'passwd.txt', problem: { type: 'outside', link: 'passwd.txt', target: '/etc/passwd' } },
      { name: 'slash', problem: { type: 'outside', link: 'slash', target: '/' } },
    ]);
    assert.deepEqual(
      l.others.map((o) => `${o.name}: ${o.what}`),
      ['a: a symlink to a directory', 'b: a symlink to a directory', 'c: a symlink to a directory', 'loop.txt: a symlink loop'],
    );
    // built-alias.txt and git-alias lead into places the ignore rules hide (and the watcher does not watch).
    assert.ok(!l.files.includes('built-alias.txt') && !l.files.includes('git-alias'));
  });

  it('walks are finite and find each file once, whatever links to `.` or `/` there are', async () => {
    const run = createEngine().startRun();
    const under = await run.get(new FilesUnderKey(ws(root), ''));
    assert.deepEqual(under.files, ['alias.txt', 'notes.txt', 'pkgs/lib/BUILD', 'pkgs/lib/src/x.txt']);
    assert.deepEqual(await run.get(new BuildDirsUnderKey(ws(root), '')), ['pkgs/lib'], 'no second copy through node_modules/lib');
  });

  it('a path that names a link to a directory goes through it, and stays under the name it was given', async () => {
    const run = createEngine().startRun();
    assert.deepEqual((await run.get(new FilesUnderKey(ws(root), 'node_modules/lib'))).files, ['node_modules/lib/BUILD', 'node_modules/lib/src/x.txt']);
    const g = await run.get(new GlobKey(ws(root), '', ['node_modules/lib/src/*.txt', 'a/notes.txt']));
    assert.deepEqual(g.files, ['a/notes.txt', 'node_modules/lib/src/x.txt']);
  });

  it('globs report matches that lead out of the root, with the pattern, unless excluded', async () => {
    const run = createEngine().startRun();
    const g = await run.get(new GlobKey(ws(root), '', ['*.txt']));
    assert.deepEqual(g.files, ['alias.txt', 'notes.txt']);
    assert.deepEqual(g.escapes, [{ pattern: '*.txt', path: 'passwd.txt', problem: { type: 'outside', link: 'passwd.txt', target: '/etc/passwd' } }]);
    assert.deepEqual((await run.get(new GlobKey(ws(root), '', ['*.txt', '!passwd.txt']))).escapes, []);
    const literal = await run.get(new GlobKey(ws(root), '', ['slash/etc/passwd']));
    assert.deepEqual(literal.escapes, [{ pattern: 'slash/etc/passwd', path: 'slash/etc/passwd', problem: { type: 'outside', link: 'slash', target: '/' } }]);
    assert.deepEqual(literal.files, []);
    const recursive = await run.get(new GlobKey(ws(root), '', ['slash/**/*']));
    assert.equal(recursive.escapes[0]?.problem.type, 'outside');
  });
});

describe('invalidation through symlinks', () => {
  let root: string;
  let engine: Engine;
  before(async () => {
    root = await tree({ 'real/a.txt': 'a', 'real/b.txt': 'b', 'other/a.txt': 'other' }, { 'link': 'real', 'file-link.txt': 'real/a.txt' });
    engine = createEngine();
  });
  after(() => rm(root, { recursive: true, force: true }));

  const get = <V>(key: import('../engine/index.js').Key<V>): Promise<V> => engine.startRun().get(key);

  it('a change at the real path reaches what was read through the link', async () => {
    const viaDir = new FileDigestKey(ws(root), 'link/a.txt');
    const viaFile = new FileDigestKey(ws(root), 'file-link.txt');
    const listing = new ListingKey(ws(root), 'link');
    const glob = new GlobKey(ws(root), '', ['link/*.txt']);
    assert.equal((await get(viaDir))?.digest.sizeBytes, 1);
    assert.equal((await get(viaFile))?.digest.sizeBytes, 1);
    assert.deepEqual((await get(listing)).files, ['a.txt', 'b.txt']);
    assert.deepEqual((await get(glob)).files, ['link/a.txt', 'link/b.txt']);

    // The watcher reports changes where they happen: at real/…, never at link/….
    await writeFile(join(root, 'real/a.txt'), 'changed');
    await unlink(join(root, 'real/b.txt'));
    engine.invalidatePaths(['real/a.txt', 'real/b.txt']);
    assert.equal((await get(viaDir))?.digest.sizeBytes, 7);
    assert.equal((await get(viaFile))?.digest.sizeBytes, 7);
    assert.deepEqual((await get(listing)).files, ['a.txt']);
    assert.deepEqual((await get(glob)).files, ['link/a.txt']);
  });

  it('pointing the link elsewhere is a change at the link', async () => {
    const viaDir = new FileDigestKey(ws(root), 'link/a.txt');
    await unlink(join(root, 'link'));
    await symlink('other', join(root, 'link'));
    engine.invalidatePaths(['link']);
    assert.equal((await get(viaDir))?.digest.sizeBytes, 5);
    assert.equal(await get(new FileTextKey(ws(root), 'link/a.txt')), 'other');
  });
});
