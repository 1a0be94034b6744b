// End-to-end: symlinks in a build root, through the real CLI. Links out of the
// root are errors naming the link (nothing behind them is read, stored or
// uploaded); walks never follow a link to a directory, so loops and links to
// `/` cost nothing and an npm workspace's links add no second copy of a
// target; a daemon stays right about files read through links.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertGolden, DaemonJanitor, makeRepo, runTrews, type TempRepo } from './helpers/index.js';
import { makeShellRepo, type ShellRepo } from './helpers/shell.js';

async function link(repo: TempRepo, path: string, target: string): Promise<void> {
  await symlink(target, join(repo.root, path));
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

describe('a symlink out of the build root', () => {
  let outside: string;
  const SECRET = 'root:$6$not-for-the-cache$:19000:0:99999:7:::\n';
  before(async () => {
    outside = await mkdtemp(join(tmpdir(), 'trews-etc-'));
    await writeFile(join(outside, 'shadow'), SECRET);
  });
  after(() => rm(outside, { recursive: true, force: true }));

  it('named in sources is an error naming the link, and what it points at never reaches the store', async () => {
    const repo: ShellRepo = await makeShellRepo({
      'a/BUILD': [
        'files(name="f", sources=["link/shadow"])',
        'test_shell_command(name="t", command="cat link/shadow", tools=["cat"], execution_dependencies=[":f"])',
        '',
      ].join('\n'),
    });
    try {
      await link(repo, 'a/link', outside);
      const r = await repo.trews(['test', 'a:t']);
      assert.equal(r.code, 1, r.stderr);
      assertGolden('errors/symlink-outside-root', r.stderr.split(outside).join('<outside>'));
      const digest = createHash('sha256').update(SECRET).digest('hex');
      for (const f of await filesUnder(repo.store)) {
        assert.ok(!f.includes(digest), `the secret's blob is in the store: ${f}`);
        assert.ok(!(await readFile(f)).includes(SECRET), `${f} holds the secret`);
      }
      const list = await repo.trews(['filedeps', 'a:f']);
      assert.equal(list.code, 1, 'filedeps does not list it either');
    } finally {
      await repo.cleanup();
    }
  });

  it('in a dependency address is an error at the address', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'target(dependencies=["./link/shadow"])\n' });
    try {
      await link(repo, 'a/link', outside);
      const r = await runTrews(['dependencies', 'a'], { cwd: repo.root });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.split('\n')[0], `error: a/BUILD:1:22: \`a/link\` is a symlink to ${JSON.stringify(outside)}, outside the build root`);
    } finally {
      await repo.cleanup();
    }
  });

  it('matched by a glob is an error too, that says how to exclude it', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'files(name="f", sources=["*"])\n', 'a/ok.txt': '' });
    try {
      await link(repo, 'a/passwd', join(outside, 'shadow'));
      const r = await runTrews(['list', '::'], { cwd: repo.root });
      assert.equal(r.code, 1, r.stderr);
      assertGolden('errors/symlink-outside-root-glob', r.stderr.split(outside).join('<outside>'));
      await writeFile(join(repo.root, 'a/BUILD'), 'files(name="f", sources=["*", "!passwd"])\n');
      const excluded = await runTrews(['filedeps', 'a:f'], { cwd: repo.root });
      assert.equal(excluded.code, 0, excluded.stderr);
      assert.equal(excluded.stdout, 'a/BUILD\na/ok.txt\n');
    } finally {
      await repo.cleanup();
    }
  });
});

describe('walks through a tree with symlink loops', () => {
  it('three links to `.` and one to `/` are not walked: each file is found once, at once', async () => {
    const repo = await makeRepo({ 'BUILD': 'files(name="txt", sources=["**/*.txt"])\n', 'one.txt': '', 'sub/two.txt': '' });
    try {
      for (const name of ['a', 'b', 'c']) await link(repo, name, '.');
      await link(repo, 'sub/loop', '..');
      await link(repo, 'slash', '/');
      // Without the fix this walked forever (or the whole file system): the timeout fails it.
      const r = await runTrews(['filedeps', '::'], { cwd: repo.root, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'BUILD\none.txt\nsub/two.txt\n');
      const list = await runTrews(['list', '::'], { cwd: repo.root, timeoutMs: 60_000 });
      assert.equal(list.stdout, '//:txt\none.txt:txt\nsub/two.txt:../txt\n');
    } finally {
      await repo.cleanup();
    }
  });

  it('a loop named in sources is an error naming the link', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'files(name="f", sources=["loop/x.txt"])\n' });
    try {
      await link(repo, 'a/loop', 'loop2');
      await link(repo, 'a/loop2', 'loop');
      const r = await runTrews(['list', '::'], { cwd: repo.root, timeoutMs: 60_000 });
      assert.equal(r.code, 1, r.stderr);
      assertGolden('errors/symlink-loop', r.stderr);
    } finally {
      await repo.cleanup();
    }
  });
});

describe('an npm workspace', () => {
  it('BUILD discovery does not find a second copy of each package through node_modules', async () => {
    const repo = await makeRepo({
      'packages/lib/BUILD': 'files(name="lib", sources=["*.js"])\n',
      'packages/lib/index.js': '',
      'packages/app/BUILD': 'target(name="app", dependencies=["packages/lib"])\n',
    });
    try {
      await link(repo, 'node_modules', 'packages'); // as if hoisted: node_modules/lib -> packages/lib
      const r = await runTrews(['list', '::'], { cwd: repo.root });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'packages/app:app\npackages/lib/index.js:lib\npackages/lib:lib\n');
    } finally {
      await repo.cleanup();
    }
  });
});

describe('a daemon and files read through symlinks', () => {
  const janitor = new DaemonJanitor();
  after(() => janitor.stopAll());

  it('sees a file deleted, or edited, behind a symlinked directory', async () => {
    const repo = await makeShellRepo({
      'BUILD': [
        'files(name="f", sources=["link/*.txt"])',
        'test_shell_command(name="t", command="grep -q good link/a.txt", tools=["grep"], execution_dependencies=[":f"])',
        '',
      ].join('\n'),
      'real/a.txt': 'good\n',
      'real/b.txt': 'b\n',
    });
    const env = { TREWS_LOCAL_STORE_DIR: repo.store, TMPDIR: repo.tmp };
    try {
      await link(repo, 'link', 'real');
      const first = await janitor.run(repo.root, ['filedeps', ':f'], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, 'BUILD\nlink/a.txt\nlink/b.txt\n');
      assert.equal((await janitor.run(repo.root, ['test', ':t'], { env })).code, 0);

      // The watcher reports these at real/…, where they happen.
      await unlink(join(repo.root, 'real/b.txt'));
      await writeFile(join(repo.root, 'real/a.txt'), 'bad\n');
      const second = await janitor.run(repo.root, ['filedeps', ':f'], { env });
      assert.equal(second.stdout, 'BUILD\nlink/a.txt\n', 'the daemon saw real/b.txt go');
      const test = await janitor.run(repo.root, ['test', ':t'], { env });
      assert.equal(test.code, 1, `the daemon saw real/a.txt change:\n${test.stderr}`);

      // Pointing the link elsewhere is seen as well.
      await unlink(join(repo.root, 'link'));
      await writeFile(join(repo.root, 'other.txt'), '');
      await link(repo, 'link', '.');
      const third = await janitor.run(repo.root, ['filedeps', ':f'], { env });
      assert.equal(third.stdout, 'BUILD\nlink/other.txt\n');
    } finally {
      await janitor.stopAll();
      await repo.cleanup();
    }
  });
});
