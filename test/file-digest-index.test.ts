// End-to-end: the persisted file digest index (.trews.d/file-digests) through
// the real CLI without a daemon. A stale digest would make the edited input
// look unchanged, so the test below would be a cache hit and pass: it must fail.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RACY_MARGIN_MS } from '../src/fs/index.js';
import { runTrews, waitUntil, withRepo } from './helpers/index.js';

const BUILD = 'files(name="in", sources=["in.txt"])\ntest_shell_command(name="t", command="grep -q good in.txt", tools=["grep"], execution_dependencies=[":in"])\n';
const HOUR_AGO_S = Date.now() / 1000 - 3600;

describe('the file digest index, --no-daemon', () => {
  it('an input edited in place with its size and mtime restored is read again: the test fails', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good\n' }, async (repo, env) => {
      const input = join(repo.root, 'a', 'in.txt');
      await utimes(input, HOUR_AGO_S, HOUR_AGO_S);
      // Only files whose ctime is older than the racy margin are recorded (utimes moves the ctime to now).
      const { ctimeMs } = await lstat(input);
      await waitUntil(() => Date.now() > ctimeMs + RACY_MARGIN_MS + 50, 'the input to be older than the racy margin', 60_000);
      const first = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(await readFile(join(repo.root, '.trews.d', 'file-digests'), 'utf8'), /"a\/in\.txt"/, 'the old input was recorded');
      const cached = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env });
      assert.match(cached.stderr, /1 from the local cache/);
      const before = await lstat(input);
      await writeFile(input, 'bad!\n');
      await utimes(input, HOUR_AGO_S, HOUR_AGO_S);
      const after = await lstat(input);
      assert.equal(after.size, before.size);
      assert.equal(after.mtimeMs, before.mtimeMs);
      const edited = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env });
      assert.notEqual(edited.code, 0, `the test must see the edit:\n${edited.stderr}`);
      assert.match(edited.stderr, /1 failed/);
    });
  });

  it('an input edited right after the run that recorded it, same size and mtime: the test fails', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good\n' }, async (repo, env) => {
      const input = join(repo.root, 'a', 'in.txt');
      const first = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env });
      assert.equal(first.code, 0, first.stderr);
      const before = await lstat(input, { bigint: true });
      await writeFile(input, 'bad!\n');
      // To the nanosecond (utimes() takes a double): as a file system with coarse timestamps would leave it.
      const ns = before.mtimeNs % 1_000_000_000n;
      execFileSync('touch', ['-m', '-d', `@${before.mtimeNs / 1_000_000_000n}.${ns.toString().padStart(9, '0')}`, input]);
      assert.equal((await lstat(input, { bigint: true })).mtimeNs, before.mtimeNs);
      const edited = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env });
      assert.notEqual(edited.code, 0, `the test must see the edit:\n${edited.stderr}`);
    });
  });

  it('a garbage index is ignored: the run is right and rewrites it', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'bad!\n' }, async (repo, env) => {
      await utimes(join(repo.root, 'a', 'in.txt'), HOUR_AGO_S, HOUR_AGO_S);
      await runTrews(['--no-daemon', 'list', '::'], { cwd: repo.root, env });
      const index = join(repo.root, '.trews.d', 'file-digests');
      await writeFile(index, 'trews-file-digests 1\nnot a checksum\n{"entries": 3}');
      const r = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env });
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(await readFile(index, 'utf8'), /^trews-file-digests 1\n[0-9a-f]{64}\n\{"root":/);
    });
  });
});
