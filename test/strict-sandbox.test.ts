// End-to-end: `[sandbox] isolation = "strict"` and the `sandbox_isolation` /
// `network` fields, through the real CLI and real bubblewrap. A process that
// reads a file no input names succeeds unconfined and fails strict, naming
// the file; it cannot write outside its sandbox; it has no network unless its
// target says so; and a result of one kind never answers for the other.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { makeShellRepo, resultLines, type ShellRepo } from './helpers/shell.js';

const HAVE_BWRAP = (existsSync('/usr/bin/bwrap') && existsSync('/usr/bin/strace')) || process.env['CI'] === 'true'; // CI installs them: there, their absence is a failure
const NO_BWRAP = 'bubblewrap and strace are not installed here (CI installs them: .ci/run)';

/** The error block of a run, the repo's path replaced by <root> so it reads the same on every machine. */
function errorText(stderr: string, root: string): string {
  const start = stderr.indexOf('error: ');
  const end = stderr.indexOf('\n\n', start);
  return stderr.slice(start, end < 0 ? undefined : end).split(root).join('<root>');
}

describe('strict sandboxes', { skip: HAVE_BWRAP ? false : NO_BWRAP }, () => {
  let repo: ShellRepo;
  let listener: Server;
  let port = 0;
  let connections = 0;
  before(async () => {
    repo = await makeShellRepo({ 'secret.txt': 'from the workspace\n' });
    const secret = `${repo.root}/secret.txt`;
    await repo.write(
      'BUILD',
      [
        `test_shell_command(name="peek", command="cat ${secret}", tools=["cat"])`,
        `test_shell_command(name="peek-strict", command="cat ${secret}", tools=["cat"], sandbox_isolation="strict")`,
        `test_shell_command(name="quiet", command="cat ${secret} 2>/dev/null || exit 3", tools=["cat"], sandbox_isolation="strict")`,
        `test_shell_command(name="plant", command="echo x > ${repo.root}/planted.txt; echo y > ${repo.tmp}/planted.txt; true", sandbox_isolation="strict")`,
        `test_shell_command(name="plant-none", command="echo x > ${repo.root}/planted-none.txt")`,
        'test_shell_command(name="net", command="echo hi > /dev/tcp/127.0.0.1/$PORT", extra_env_vars=["PORT"], sandbox_isolation="strict")',
        'test_shell_command(name="net-on", command="echo hi > /dev/tcp/127.0.0.1/$PORT", extra_env_vars=["PORT"], sandbox_isolation="strict", network=True)',
        'test_shell_command(name="slow", command="sleep 600.4242", tools=["sleep"], sandbox_isolation="strict", timeout=1)',
        '',
      ].join('\n'),
    );
    listener = createServer((s) => {
      connections++;
      s.resume();
      s.on('error', () => undefined);
    });
    await new Promise<void>((res) => listener.listen(0, '127.0.0.1', res));
    port = (listener.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise<void>((res) => listener.close(() => res()));
    await repo.cleanup();
  });

  it('a process reading an undeclared workspace file succeeds unconfined and fails strict, naming the file and the field', async () => {
    const none = await repo.trews(['test', ':peek', '--test-output=all']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /from the workspace/);

    const strict = await repo.trews(['test', ':peek-strict']);
    assert.notEqual(strict.code, 0);
    assert.equal(
      errorText(strict.stderr, repo.root),
      [
        'error: process `Run test_shell_command //:peek-strict` tried to read `<root>/secret.txt`, which is not among its inputs: a strict sandbox shows it only its inputs, its tools and the system directories',
        '  stderr: /usr/bin/cat: <root>/secret.txt: No such file or directory',
        '  declare it: add the target that owns it to `dependencies` of //:peek-strict (a file of its own directory: to the `sources` of a `files` or `shell_sources` target there)',
        '  files outside the build root (the home directory, /tmp, /opt…) cannot be inputs: copy what the process needs into the workspace and declare it, or name the program in `tools`',
        '  or let this target see the whole machine, `sandbox_isolation="none"` (its cached results then depend on files no input names)',
        '  run again with --sandbox-explain to trace every file it tried to open',
      ].join('\n'),
    );
  });

  it('bwrap is found on [shell] executable_search_paths, where the command\'s tools are; missing there, the error says what to install', async () => {
    const bin = join(repo.tmp, 'tools-without-bwrap');
    await mkdir(bin, { recursive: true });
    for (const p of ['bash', 'cat']) await symlink(join('/usr/bin', p), join(bin, p));
    const env = { TREWS_SHELL_EXECUTABLE_SEARCH_PATHS: JSON.stringify([bin]) };
    let r = await repo.trews(['test', ':peek-strict'], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      errorText(r.stderr, repo.tmp),
      [
        'error: strict sandboxes need bubblewrap (`bwrap`), which is not on the search path',
        '  searched: <root>/tools-without-bwrap',
        "  install it (Debian and Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`), or add its directory to the search path the target's tools are found on (`[shell] executable_search_paths`, `[nodejs] search_path`)",
        '  or run without strict isolation: `[sandbox] isolation = "none"` (or `sandbox_isolation="none"` on the target)',
      ].join('\n'),
    );
    await symlink('/usr/bin/bwrap', join(bin, 'bwrap'));
    r = await repo.trews(['test', ':peek-strict'], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /tried to read `.*\/secret\.txt`, which is not among its inputs/, 'bwrap found there ran it');
  });

  it('a process that hides its failure is named by --sandbox-explain (strace), and only a plain failure without it', async () => {
    const plain = await repo.trews(['test', ':quiet']);
    assert.deepEqual(resultLines(plain.stderr), ['✕ //:quiet failed (ran locally)'], plain.stderr);
    const explained = await repo.trews(['test', ':quiet', '--sandbox-explain']);
    assert.notEqual(explained.code, 0);
    assert.match(
      errorText(explained.stderr, repo.root),
      /^error: process `Run test_shell_command \/\/:quiet` tried to read `<root>\/secret\.txt`, which is not among its inputs/,
    );
    assert.doesNotMatch(explained.stderr, /--sandbox-explain to trace/);
  });

  it('a process cannot write outside its sandbox (the workspace, the machine’s /tmp); unconfined it can', async () => {
    const r = await repo.trews(['test', ':plant']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(`${repo.root}/planted.txt`), false, 'wrote into the workspace');
    assert.equal(existsSync(`${repo.tmp}/planted.txt`), false, 'wrote into the machine’s temp dir');
    const none = await repo.trews(['test', ':plant-none']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(readFileSync(`${repo.root}/planted-none.txt`, 'utf8'), 'x\n');
  });

  it('has no network unless the target says network=True', async () => {
    const off = await repo.trews(['test', ':net'], { env: { PORT: String(port) } });
    assert.deepEqual(resultLines(off.stderr), ['✕ //:net failed (ran locally)'], off.stderr);
    assert.equal(connections, 0);
    const on = await repo.trews(['test', ':net-on'], { env: { PORT: String(port) } });
    assert.deepEqual(resultLines(on.stderr), ['✓ //:net-on succeeded (ran locally)'], on.stderr);
    assert.equal(connections, 1);
  });

  it('kills the whole sandbox on timeout: nothing it started is left running', async () => {
    const r = await repo.trews(['test', ':slow']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /timed out/);
    const left: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('600.4242')) left.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    assert.deepEqual(left, []);
  });

  it('an unconfined result never answers for a strict process (attack: cache it first, then ask strict)', async () => {
    // The same target, first unconfined: it reads the undeclared file and succeeds, and is cached.
    const first = await repo.trews(['test', ':peek']);
    assert.equal(first.code, 0, first.stderr);
    const cached = await repo.trews(['test', ':peek']);
    assert.deepEqual(resultLines(cached.stderr), ['✓ //:peek succeeded (local cache)'], cached.stderr);
    // Strict for every target that does not say otherwise: the cached success must not be served.
    const strict = await repo.trews(['test', ':peek', '--sandbox-isolation=strict']);
    assert.notEqual(strict.code, 0, strict.stderr);
    assert.match(strict.stderr, /^error: process `Run test_shell_command \/\/:peek` tried to read `.*\/secret\.txt`/m);
    // And a strict result is its own: back to none runs from the cache entry none made, not a strict one.
    const again = await repo.trews(['test', ':peek']);
    assert.deepEqual(resultLines(again.stderr), ['✓ //:peek succeeded (local cache)'], again.stderr);
  });

  it('a strict success is cached as strict, and not served to the unconfined process', async () => {
    await repo.write('ok/BUILD', 'test_shell_command(name="ok", command="echo fine")\n');
    const strict = await repo.trews(['test', 'ok:ok', '--sandbox-isolation=strict']);
    assert.deepEqual(resultLines(strict.stderr), ['✓ ok:ok succeeded (ran locally)'], strict.stderr);
    const strictAgain = await repo.trews(['test', 'ok:ok', '--sandbox-isolation=strict']);
    assert.deepEqual(resultLines(strictAgain.stderr), ['✓ ok:ok succeeded (local cache)'], strictAgain.stderr);
    const none = await repo.trews(['test', 'ok:ok']);
    assert.deepEqual(resultLines(none.stderr), ['✓ ok:ok succeeded (ran locally)'], none.stderr);
  });
});
