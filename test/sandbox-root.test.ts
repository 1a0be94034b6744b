// End-to-end: where local sandboxes go. The default root is per user
// (`$TMPDIR/trews-<uid>/sandboxes`, mode 700); one that someone else could
// have made or can change (a symlink, a shared mode) is refused with a clear
// error before any process runs, and nothing is written through it.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertGolden } from './helpers/index.js';
import { makeShellRepo, type ShellRepo } from './helpers/shell.js';

const BUILD = 'test_shell_command(name="t", command="echo ran > ran.txt", tools=["echo"])\n';

describe('the sandbox root', () => {
  let repo: ShellRepo;
  let elsewhere: string;
  before(async () => {
    repo = await makeShellRepo({ 'a/BUILD': BUILD });
    elsewhere = await mkdtemp(join(tmpdir(), 'trews-not-ours-'));
  });
  after(async () => {
    await repo.cleanup();
    await rm(elsewhere, { recursive: true, force: true });
  });

  /** A run with a fresh local store, so the process runs rather than coming from the cache. */
  let runs = 0;
  const run = (): ReturnType<ShellRepo['trews']> => repo.trews(['test', 'a:t'], { env: { TREWS_LOCAL_STORE_DIR: `${repo.store}-${++runs}` } });

  /** stderr with the machine's paths and uid replaced, for golden files. */
  const normalized = (stderr: string): string =>
    stderr
      .split(repo.tmp)
      .join('<tmp>')
      .split(elsewhere)
      .join('<elsewhere>')
      .replace(/trews-\d+/g, 'trews-<uid>')
      .replace(/user \d+/g, 'user <uid>')
      .replace(/this user \(\d+\)/g, 'this user (<uid>)');

  it('is made private to this user, per user, on first use', async () => {
    const r = await run();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(repo.sandboxes, join(repo.tmp, `trews-${process.getuid!()}`, 'sandboxes'));
    for (const dir of [repo.sandboxes, dirname(repo.sandboxes)]) {
      const st = await stat(dir);
      assert.equal(st.mode & 0o777, 0o700, `${dir} has mode ${(st.mode & 0o777).toString(8)}`);
      assert.equal(st.uid, process.getuid!());
    }
    assert.deepEqual(await readdir(repo.sandboxes), [], 'the sandbox was removed after the run');
  });

  it('a symlink in its place is refused, and nothing is written where it points', async () => {
    await rm(dirname(repo.sandboxes), { recursive: true, force: true });
    await mkdir(dirname(repo.sandboxes), { mode: 0o700 });
    await symlink(elsewhere, repo.sandboxes);
    const r = await run();
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(await readdir(elsewhere), [], 'no sandbox was made through the symlink');
    assertGolden('errors/sandbox-root-symlink', normalized(r.stderr));
  });

  it('a sandbox root others can write to is refused', async () => {
    await rm(dirname(repo.sandboxes), { recursive: true, force: true });
    await mkdir(repo.sandboxes, { recursive: true, mode: 0o700 });
    await chmod(repo.sandboxes, 0o777);
    const r = await run();
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(await readdir(repo.sandboxes), []);
    assertGolden('errors/sandbox-root-shared-mode', normalized(r.stderr));
  });

  it('a per-user directory others can write to is refused (they could swap the root inside it)', async () => {
    await rm(dirname(repo.sandboxes), { recursive: true, force: true });
    await mkdir(dirname(repo.sandboxes), { mode: 0o700 });
    await chmod(dirname(repo.sandboxes), 0o777);
    const r = await run();
    assert.equal(r.code, 1, r.stderr);
    assertGolden('errors/sandbox-root-shared-parent', normalized(r.stderr));
    // Made private again, it is used as it is.
    await chmod(dirname(repo.sandboxes), 0o700);
    const again = await run();
    assert.equal(again.code, 0, again.stderr);
  });
});
