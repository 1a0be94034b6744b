import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { findIgnoredDirs } from './ignored-dirs.js';
import { relativeEventPath, WatchFilter, type PathKind } from './watch-filter.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'trews-wf-'));
  roots.push(root);
  for (const [p, text] of Object.entries(files)) {
    if (p.endsWith('/')) {
      mkdirSync(join(root, p), { recursive: true });
      continue;
    }
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

describe('event paths', () => {
  test('become build-root-relative posix paths; the root itself is ""; outside is undefined', () => {
    assert.equal(relativeEventPath('/repo', '/repo/a/BUILD'), 'a/BUILD');
    assert.equal(relativeEventPath('/repo/', '/repo/a'), 'a');
    assert.equal(relativeEventPath('/repo', '/repo'), '');
    assert.equal(relativeEventPath('/repo', '/repository/a'), undefined, 'a sibling sharing the prefix is outside');
    assert.equal(relativeEventPath('/repo', '/elsewhere/a'), undefined);
    assert.equal(relativeEventPath('C:\\repo', 'C:\\repo\\a\\BUILD', '\\'), 'a/BUILD');
  });
});

describe('classifying events', () => {
  const rules = { levels: [{ base: '', patterns: ['.*/', '/dist/', '*.log', 'build/'] }] };
  const kinds: Record<string, PathKind> = { dist: 'dir', build: 'file', 'x/.git': 'file', 'x/build': 'dir' };
  const filter = new WatchFilter(rules, ['node_modules', 'x/vendor'], (p) => kinds[p] ?? 'missing');
  const kind = (p: string): string => {
    const c = filter.classify(p);
    return c.kind === 'cookie' ? `cookie ${c.name}` : c.kind;
  };

  test('sync cookies are recognised by name', () => {
    assert.equal(kind('.trews.d/cookies/123-4'), 'cookie 123-4');
  });

  test('.git and .trews.d are internal at any depth, but a file named .git is not', () => {
    assert.equal(kind('.git/HEAD'), 'internal');
    assert.equal(kind('.trews.d/daemon.log'), 'internal');
    assert.equal(kind('x/.git/index'), 'internal');
    assert.equal(kind('x/y/.trews.d/z'), 'internal');
    assert.equal(kind('.git'), 'internal', 'the directory itself (gone, or a dir)');
    assert.equal(kind('x/.git'), 'visible', 'a worktree\'s .git file');
  });

  test('the ignore rules decide the rest, directories by what is at the path', () => {
    assert.equal(kind('a/BUILD'), 'visible');
    assert.equal(kind('.gitignore'), 'visible', '`.*/` hides dot-directories, not dot-files');
    assert.equal(kind('.github/workflows/ci.yml'), 'ignored', 'inside a dot-directory');
    assert.equal(kind('dist/out.js'), 'ignored');
    assert.equal(kind('dist'), 'ignored', 'the directory itself');
    assert.equal(kind('a/dist/x'), 'visible', '/dist/ is anchored at the root');
    assert.equal(kind('server.log'), 'ignored');
    assert.equal(kind('build'), 'visible', 'a file named like a directory-only pattern stays visible');
    assert.equal(kind('x/build'), 'ignored');
    assert.equal(kind('x/build/out'), 'ignored');
  });

  test('directories found ignored when the watch started hide what is under them', () => {
    assert.equal(kind('node_modules/pkg/index.js'), 'ignored');
    assert.equal(kind('node_modules'), 'ignored');
    assert.equal(kind('x/vendor/lib.c'), 'ignored');
    assert.equal(kind('x/vendored'), 'visible');
  });

  test('below a directory with a .gitignore of its own, its rules decide, as they do for the engine', () => {
    const root = { levels: [{ base: '', patterns: ['out/'] }] };
    const nested = new Map([['a', { levels: [...root.levels, { base: 'a', patterns: ['gen/', '!out/'] }] }]]);
    const f = new WatchFilter(root, [], () => 'dir', nested);
    assert.equal(f.classify('a/gen/x.js').kind, 'ignored');
    assert.equal(f.classify('b/gen/x.js').kind, 'visible');
    assert.equal(f.classify('a/out').kind, 'visible', 'brought back: in the listing of a/');
    assert.equal(f.classify('b/out').kind, 'ignored');
    assert.equal(f.hidingDir('a/gen/x.js'), 'a/gen');
    assert.equal(f.hidingDirIfDir('a/out'), undefined);
  });

  test('the root and the paths of a removed directory stay visible', () => {
    assert.equal(kind(''), 'visible');
    assert.equal(kind('gone/dir'), 'visible');
  });
});

describe('finding ignored directories', () => {
  test('applies the ignore option and every .gitignore, outermost directories only', async () => {
    const root = tree({
      '.gitignore': 'node_modules/\n# a comment\n\n*.tmp\n',
      '.git/HEAD': '',
      '.venv/lib/x': '',
      'node_modules/a/b/c': '',
      'dist/bundle.js': '',
      'src/app/BUILD': '',
      'src/app/node_modules/x': '',
      'src/lib/.gitignore': 'generated/\n',
      'src/lib/generated/a/b': '',
      'src/lib/kept/x': '',
      'other/generated/x': '',
    });
    const r = await findIgnoredDirs(root, { buildPatterns: ['BUILD'], ignorePatterns: ['.*/', '/dist/'], useGitignore: true });
    assert.deepEqual(r.dirs, ['.venv', 'dist', 'node_modules', 'src/app/node_modules', 'src/lib/generated']);
    assert.equal(r.truncated, false);
    assert.deepEqual([...r.nested.keys()], ['src/lib'], 'the one directory with rules of its own');
    assert.deepEqual(r.nested.get('src/lib')!.levels.at(-1), { base: 'src/lib', patterns: ['generated/'] });
    assert.deepEqual(
      r.rootRules.levels.map((l) => l.patterns),
      [['.*/', '/dist/'], ['node_modules/', '*.tmp']],
    );
  });

  test('without ignore_use_gitignore, only the ignore option counts', async () => {
    const root = tree({ '.gitignore': 'node_modules/\n', 'node_modules/a/x': '', 'dist/x': '' });
    const r = await findIgnoredDirs(root, { buildPatterns: ['BUILD'], ignorePatterns: ['/dist/'], useGitignore: false });
    assert.deepEqual(r.dirs, ['dist']);
    assert.deepEqual(r.rootRules.levels, [{ base: '', patterns: ['/dist/'] }]);
  });

  test('a symlinked .gitignore is not honoured, as by git and by the engine', async () => {
    const root = tree({ 'rules.txt': 'node_modules/\n', 'node_modules/a/x': '' });
    symlinkSync('rules.txt', join(root, '.gitignore'));
    const r = await findIgnoredDirs(root, { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: true });
    assert.deepEqual(r.dirs, []);
  });

  test('does not follow symbolic links', async () => {
    const root = tree({ 'real/dist/x': '', 'a/': '' });
    symlinkSync(join(root, 'real'), join(root, 'a', 'link'));
    const r = await findIgnoredDirs(root, { buildPatterns: ['BUILD'], ignorePatterns: ['dist/'], useGitignore: false });
    assert.deepEqual(r.dirs, ['real/dist']);
  });
});
