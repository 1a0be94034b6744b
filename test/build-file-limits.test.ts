// End-to-end: BUILD files someone else wrote, through the real CLI. A huge
// one is refused by its size, bytes that are not UTF-8 are an error at their
// offset, a BUILD name that is not a file is an error, and an error quoting
// the file neither echoes a huge line nor lets its escape sequences reach the
// terminal.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertGolden, makeRepo, runTrews } from './helpers/index.js';

async function listErrors(files: Record<string, string>, setup: (root: string) => Promise<void>, args: string[] = ['list', '::']): Promise<{ code: number | null; stderr: string }> {
  const repo = await makeRepo(files);
  try {
    await setup(repo.root);
    const r = await runTrews(args, { cwd: repo.root, timeoutMs: 60_000 });
    assert.equal(r.stdout, '');
    return r;
  } finally {
    await repo.cleanup();
  }
}

describe('BUILD files trews will not read', () => {
  it('a 700 MB BUILD file is refused by its size, without reading it', async () => {
    const r = await listErrors({ 'a/BUILD': '' }, (root) => truncate(join(root, 'a/BUILD'), 700 * 1024 * 1024));
    assert.equal(r.code, 1);
    assertGolden('errors/build-file-too-large', r.stderr);
  });

  it('the limit is the build_file_max_size option', async () => {
    const repo = await makeRepo({ 'a/BUILD': `target(name="x", description="${'d'.repeat(3000)}")\n` });
    try {
      const r = await runTrews(['list', '::', '--build-file-max-size=2KiB'], { cwd: repo.root });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: a\/BUILD: this file is 3\.0 KiB; trews reads BUILD and \.gitignore files of at most 2\.0 KiB$/m);
      const ok = await runTrews(['list', '::', '--build-file-max-size=4KiB'], { cwd: repo.root });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, 'a:x\n');
    } finally {
      await repo.cleanup();
    }
  });

  it('bytes that are not UTF-8 are an error at their offset, not replaced', async () => {
    const r = await listErrors({ 'a/BUILD': '' }, (root) =>
      writeFile(join(root, 'a/BUILD'), Buffer.concat([Buffer.from('target(name="x")\ntarget(name="caf'), Buffer.from([0xe9]), Buffer.from('")\n')])),
    );
    assert.equal(r.code, 1);
    assertGolden('errors/build-file-not-utf8', r.stderr);
  });

  it('a directory or a FIFO with a BUILD name is an error, not skipped', async () => {
    const dir = await listErrors({ 'a/BUILD.d/x.txt': '', 'a/BUILD': 'target()\n' }, async () => {});
    assert.equal(dir.code, 1);
    assertGolden('errors/build-file-is-a-directory', dir.stderr);
    const fifo = await listErrors({ 'b/x.txt': '' }, async (root) => {
      await mkdir(join(root, 'b'), { recursive: true });
      execFileSync('mkfifo', [join(root, 'b/BUILD')]);
    });
    assert.equal(fifo.code, 1);
    assertGolden('errors/build-file-is-a-fifo', fifo.stderr);
  });
});

describe('errors quoting a hostile BUILD file', () => {
  it('escape sequences are shown escaped, a 5 MB line as a window around the caret', async () => {
    const line = `target(name="x", tags=[${'"padding", '.repeat(500_000)}"\x1b]0;owned\x07\x1b[2J", 3])`;
    const r = await listErrors({ 'a/BUILD': `${line}\n` }, async () => {});
    assert.equal(r.code, 1);
    assert.ok(r.stderr.length < 2000, `stderr is ${r.stderr.length} characters`);
    assert.ok(!r.stderr.includes('\x1b') && !r.stderr.includes('\x07'), 'no raw escape reaches the terminal');
    assertGolden('errors/build-file-hostile-line', r.stderr);
    const named = await listErrors({ 'a/BUILD': 'target(name="\x1b[31mred\x9b")\n' }, async () => {});
    assert.ok(!named.stderr.includes('\x1b') && !named.stderr.includes('\x9b'), named.stderr);
    assertGolden('errors/build-file-escapes-in-message', named.stderr);
  });
});
