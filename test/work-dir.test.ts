// End-to-end: what trews leaves in a build root that is also a git (and Bazel)
// repository. Its work directory, .trews.d, is ignored by git out of the box,
// and with the default build_patterns trews does not read Bazel's BUILD.bazel.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeRepo, runTrews } from './helpers/index.js';

function git(root: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: root, encoding: 'utf8' });
}

describe('a build root that is a git repository', () => {
  it('.trews.d is created with a .gitignore of `*`: git status stays clean after a run', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'target(name="x")\n' });
    try {
      git(repo.root, 'init', '-q');
      git(repo.root, 'add', '-A');
      git(repo.root, 'commit', '-qm', 'init');
      const r = await runTrews(['--no-daemon', 'list', '::'], { cwd: repo.root });
      assert.equal(r.code, 0, r.stderr);
      assert.match(await readFile(join(repo.root, '.trews.d', '.gitignore'), 'utf8'), /^\*$/m);
      assert.equal(git(repo.root, 'status', '--porcelain', '--untracked-files=all'), '');
      // One the user wrote is kept as it is.
      await writeFile(join(repo.root, '.trews.d', '.gitignore'), 'trews.log\n');
      assert.equal((await runTrews(['--no-daemon', 'list', '::'], { cwd: repo.root })).code, 0);
      assert.equal(await readFile(join(repo.root, '.trews.d', '.gitignore'), 'utf8'), 'trews.log\n');
    } finally {
      await repo.cleanup();
    }
  });

  it("Bazel's BUILD.bazel next to trews' BUILD is not read by default, and is with build_patterns = ['BUILD.*']", async () => {
    const repo = await makeRepo({
      'a/BUILD': 'target(name="x")\n',
      'a/BUILD.bazel': 'genrule(name = "g", outs = ["g.txt"], cmd = "echo > $@")\n',
      'b/BUILD.bazel': 'package(default_visibility = ["//visibility:public"])\n',
    });
    try {
      const r = await runTrews(['--no-daemon', 'list', '::'], { cwd: repo.root });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'a:x\n');
      const all = await runTrews(['--no-daemon', 'list', '::', '--build-patterns=["BUILD", "BUILD.*"]'], { cwd: repo.root });
      assert.equal(all.code, 1);
      assert.match(all.stderr, /BUILD\.bazel/);
    } finally {
      await repo.cleanup();
    }
  });
});
