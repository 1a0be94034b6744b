import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AbsPath } from '../core/index.js';
import { createEngine } from '../engine/index.js';
import { BuildDirsUnderKey, BuildFilesInDirKey, FileDigestKey, GlobKey, ListingKey, PathKindKey, type Workspace } from './index.js';
import { buildFileMatcher } from './build-file-discovery.js';

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'trews-fs-'));
  for (const [p, t] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), t);
  }
  return root;
}

function ws(root: string, ignore: string[] = ['.*/', '/dist/'], useGitignore = true): Workspace {
  return { root: root as AbsPath, rules: { buildPatterns: ['BUILD', 'BUILD.*'], ignorePatterns: ignore, useGitignore } };
}

describe('listings and ignore rules', () => {
  let root: string;
  before(async () => {
    root = await tree({
      'a.txt': '',
      '.hidden/x.txt': '',
      'dist/out.txt': '',
      'src/.gitignore': 'gen/\n*.log\n!keep.log\n',
      'src/gen/g.txt': '',
      'src/x.log': '',
      'src/keep.log': '',
      'src/main.txt': '',
      '.gitignore': 'secret.txt\n',
      'secret.txt': '',
      '.git/config': '',
      '.trews.d/log': '',
    });
    await symlink('a.txt', join(root, 'link.txt'));
    await symlink('missing', join(root, 'dangling'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('applies the ignore option, root and nested .gitignore files, and always hides .git and .trews.d', async () => {
    const run = createEngine().startRun();
    const top = await run.get(new ListingKey(ws(root), ''));
    assert.deepEqual(top.dirs, ['src']);
    assert.deepEqual(top.files, ['.gitignore', 'a.txt', 'link.txt']);
    const src = await run.get(new ListingKey(ws(root), 'src'));
    assert.deepEqual(src, { exists: true, files: ['.gitignore', 'keep.log', 'main.txt'], dirs: [], others: [], escapes: [] });
  });

  it('a nested .gitignore brings back a directory a shallower one excludes, and what is in it, as git does', async () => {
    // git check-ignore agrees: pkg/out/x.js is tracked, pkg/out/x.log is not, other/out/y.js is ignored.
    const r = await tree({
      '.gitignore': 'out/\n*.log\n',
      'pkg/.gitignore': '!out/\n',
      'pkg/out/x.js': '',
      'pkg/out/x.log': '',
      'pkg/out/deep/z.js': '',
      'pkg/out/we*rd/w.js': '',
      'other/out/y.js': '',
      'other/.gitignore': '!y.js\n',
    });
    try {
      const run = createEngine().startRun();
      assert.deepEqual((await run.get(new ListingKey(ws(r), 'pkg'))).dirs, ['out']);
      const out = await run.get(new ListingKey(ws(r), 'pkg/out'));
      assert.deepEqual(out.files, ['x.js']);
      assert.deepEqual(out.dirs, ['deep', 'we*rd']);
      assert.deepEqual((await run.get(new ListingKey(ws(r), 'pkg/out/deep'))).files, ['z.js']);
      // A directory name a pattern would read as syntax keeps the matcher's answer, which hides.
      assert.deepEqual((await run.get(new ListingKey(ws(r), 'pkg/out/we*rd'))).files, []);
      // A file cannot be brought back from under a directory that stays excluded.
      assert.deepEqual((await run.get(new ListingKey(ws(r), 'other'))).dirs, []);
    } finally {
      await rm(r, { recursive: true, force: true });
    }
  });

  it('without gitignore support only the ignore option applies', async () => {
    const run = createEngine().startRun();
    const top = await run.get(new ListingKey(ws(root, [], false), ''));
    assert.deepEqual(top.dirs, ['.hidden', 'dist', 'src']);
    assert.ok(top.files.includes('secret.txt'));
  });

  it('path kinds follow symlinks', async () => {
    const run = createEngine().startRun();
    assert.equal(await run.get(new PathKindKey(ws(root), 'link.txt')), 'file');
    assert.equal(await run.get(new PathKindKey(ws(root), 'src')), 'dir');
    assert.equal(await run.get(new PathKindKey(ws(root), 'nope')), 'missing');
  });
});

describe('globs', () => {
  let root: string;
  before(async () => {
    root = await tree({
      'p/a.txt': '',
      'p/b.md': '',
      'p/skip.txt': '',
      'p/sub/c.txt': '',
      'p/sub/deep/d.txt': '',
      'p/.dot.txt': '',
    });
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('expands *, **, subdirectory patterns and ! excludes, relative to the directory', async () => {
    const run = createEngine().startRun();
    const g = (patterns: string[]) => run.get(new GlobKey(ws(root), 'p', patterns));
    assert.deepEqual((await g(['*.txt'])).files, ['p/a.txt', 'p/skip.txt']);
    assert.deepEqual((await g(['**/*.txt', '!skip.txt'])).files, ['p/a.txt', 'p/sub/c.txt', 'p/sub/deep/d.txt']);
    assert.deepEqual((await g(['sub/*.txt'])).files, ['p/sub/c.txt']);
    assert.deepEqual((await g(['*/*/*.txt'])).files, ['p/sub/deep/d.txt']);
    assert.deepEqual((await g(['b.md', 'nope.md'])).missingLiterals, ['nope.md']);
    assert.deepEqual((await g(['.dot.txt'])).files, ['p/.dot.txt']);
  });

  it('a new file re-expands the glob that can match it', async () => {
    const engine = createEngine();
    const key = new GlobKey(ws(root), 'p', ['**/*.txt']);
    assert.equal((await engine.startRun().get(key)).files.length, 4);
    await writeFile(join(root, 'p/sub/new.txt'), '');
    engine.invalidatePaths(['p/sub/new.txt']);
    assert.deepEqual((await engine.startRun().get(key)).files, ['p/a.txt', 'p/skip.txt', 'p/sub/c.txt', 'p/sub/deep/d.txt', 'p/sub/new.txt']);
  });
});

describe('BUILD discovery and digests', () => {
  it('finds BUILD directories recursively and only recomputes the touched branch', async () => {
    const root = await tree({ 'a/BUILD': '', 'a/b/BUILD.trews': '', 'c/x.txt': '', 'BUILD': '' });
    try {
      let listings = 0;
      const engine = createEngine({ onCompute: (k) => void (k.id.startsWith('listing:') && listings++) });
      assert.deepEqual(await engine.startRun().get(new BuildDirsUnderKey(ws(root), '')), ['', 'a', 'a/b']);
      listings = 0;
      await writeFile(join(root, 'c/BUILD'), '');
      engine.invalidatePaths(['c/BUILD']);
      assert.deepEqual(await engine.startRun().get(new BuildDirsUnderKey(ws(root), '')), ['', 'a', 'a/b', 'c']);
      assert.equal(listings, 1, 'only the listing of c/ is recomputed');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a `!` pattern excludes: with the default patterns Bazel\'s BUILD.bazel is not a BUILD file, BUILD and BUILD.trews are', async () => {
    const root = await tree({ 'a/BUILD': '', 'a/BUILD.bazel': '', 'a/BUILD.bzl': '', 'a/BUILD.trews': '', 'b/BUILD.bazel': '' });
    try {
      const defaults = { root: root as AbsPath, rules: { buildPatterns: ['BUILD', 'BUILD.*', '!BUILD.bazel', '!BUILD.bzl'], ignorePatterns: [], useGitignore: false } };
      assert.deepEqual(await createEngine().startRun().get(new BuildFilesInDirKey(defaults, 'a')), ['a/BUILD', 'a/BUILD.trews']);
      assert.deepEqual(await createEngine().startRun().get(new BuildDirsUnderKey(defaults, '')), ['a']);
      // Without the exclusions (the old default) Bazel's files are read too.
      assert.deepEqual(await createEngine().startRun().get(new BuildDirsUnderKey(ws(root), '')), ['a', 'b']);
      assert.equal(buildFileMatcher(['!BUILD.bazel'])('BUILD'), false, 'only exclusions match nothing');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('file digests are REAPI digests with the executable bit', async () => {
    const root = await tree({ 'x.sh': 'echo hi\n' });
    try {
      await chmod(join(root, 'x.sh'), 0o755);
      const d = await createEngine().startRun().get(new FileDigestKey(ws(root), 'x.sh'));
      assert.deepEqual(d, {
        digest: { hash: 'ab08508fdf5ca4da5c4995987bc41c56c048aaa5eeb046417ae4049b7d40286e', sizeBytes: 8 },
        isExecutable: true,
      });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
