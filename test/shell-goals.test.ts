// End-to-end: the shell backend and the test / run / package goals through the
// real CLI, with real processes in real sandboxes and a local store per repo.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { assertGolden, repoRoot, waitUntil } from './helpers/index.js';
import { makeShellRepo, resultLines, summaryLine, type ShellRepo } from './helpers/shell.js';

describe('trews test on the example', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo({});
    // A copy, so the runs' .trews.d and dist/ never touch the checkout.
    await cp(join(repoRoot(), 'examples'), repo.root, {
      recursive: true,
      filter: (src) => !/[/\\](\.trews\.d|dist)$/.test(src),
    });
  });
  after(() => repo.cleanup());

  it('passes, and a rerun comes entirely from the local cache', async () => {
    const first = await repo.trews(['test', '::']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(resultLines(first.stderr), ['✓ app:test succeeded (ran locally)', '✓ greeting:test succeeded (ran locally)'], first.stderr);
    assert.equal(summaryLine(first.stderr), '4 ran locally', first.stderr);

    const again = await repo.trews(['test', '::']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(resultLines(again.stderr), ['✓ app:test succeeded (local cache)', '✓ greeting:test succeeded (local cache)'], again.stderr);
    assert.equal(summaryLine(again.stderr), '4 from the local cache', again.stderr);
  });

  it('packages the site, and runs app:show with its bundle', async () => {
    const pkg = await repo.trews(['package', '//:site']);
    assert.equal(pkg.code, 0, pkg.stderr);
    assert.match(pkg.stderr, /^✓ \/\/:site: wrote dist\/site\.tar\.gz$/m);
    const listing = execFileSync('tar', ['-tzf', join(repo.root, 'dist/site.tar.gz')], { encoding: 'utf8' });
    assert.equal(listing, 'app/\napp/build/\napp/build/app.json\ndocs/\ndocs/README.md\n');

    const run = await repo.trews(['run', 'app:show', '--', 'Grace']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'Hello, Grace!\n');
  });
});

describe('test_shell_command', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo({
      'gen/BUILD': [
        'files(name="words", sources=["words.txt"])',
        'shell_command(',
        '    name="sorted",',
        '    command="mkdir -p out && sort words.txt > out/sorted.txt",',
        '    tools=["sort", "mkdir"],',
        '    execution_dependencies=[":words"],',
        '    output_directories=["out"],',
        ')',
        '',
      ].join('\n'),
      'gen/words.txt': 'pear\napple\nfig\n',
      'other/BUILD': 'files(name="data", sources=["data.txt"])\nshell_command(name="copy", command="cp data.txt copy.txt", tools=["cp"], execution_dependencies=[":data"], output_files=["copy.txt"])\n',
      'other/data.txt': 'one\n',
      'tests/BUILD': [
        'test_shell_command(',
        '    name="sees-outputs",',
        '    command="test \\"$(cat ../gen/out/sorted.txt)\\" = \\"$(printf \'apple\\\\nfig\\\\npear\')\\"",',
        '    tools=["cat"],',
        '    execution_dependencies=["//gen:sorted"],',
        ')',
        'test_shell_command(name="other", command="cat ../other/copy.txt", tools=["cat"], execution_dependencies=["//other:copy"])',
        'test_shell_command(',
        '    name="fails",',
        '    command="echo expected pear; echo got fig >&2; exit 3",',
        ')',
        '',
      ].join('\n'),
    });
  });
  after(() => repo.cleanup());

  it("sees a shell_command's outputs at their build-root paths, and a failing test prints its output and exits 1", async () => {
    const r = await repo.trews(['test', '::']);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(resultLines(r.stderr), [
      '✕ tests:fails failed (ran locally)',
      '✓ tests:other succeeded (ran locally)',
      '✓ tests:sees-outputs succeeded (ran locally)',
    ], r.stderr);
    assert.match(r.stderr, /^tests:fails stdout:\n {2}expected pear\ntests:fails stderr:\n {2}got fig\n/m);
  });

  it('an edit to a source reruns only what depends on it', async () => {
    await repo.trews(['test', 'tests:other', 'tests:sees-outputs']);
    await repo.write('gen/words.txt', 'fig\npear\napple\n'); // same words: the sorted output is the same
    const same = await repo.trews(['test', 'tests:other', 'tests:sees-outputs']);
    assert.deepEqual(resultLines(same.stderr), ['✓ tests:other succeeded (local cache)', '✓ tests:sees-outputs succeeded (local cache)'], same.stderr);
    assert.equal(summaryLine(same.stderr), '1 ran locally, 3 from the local cache', `only the sort ran again; its output was unchanged:\n${same.stderr}`);

    await repo.write('gen/words.txt', 'kiwi\n');
    const changed = await repo.trews(['test', 'tests:other', 'tests:sees-outputs']);
    assert.equal(changed.code, 1);
    assert.deepEqual(resultLines(changed.stderr), ['✓ tests:other succeeded (local cache)', '✕ tests:sees-outputs failed (ran locally)'], changed.stderr);
    assert.equal(summaryLine(changed.stderr), '2 ran locally, 2 from the local cache', changed.stderr);
    await repo.write('gen/words.txt', 'pear\napple\nfig\n');
  });

  it('--test-force runs tests again despite cached results', async () => {
    const warm = await repo.trews(['test', 'tests:other']);
    assert.deepEqual(resultLines(warm.stderr), ['✓ tests:other succeeded (local cache)'], warm.stderr);
    const forced = await repo.trews(['test', '--force', 'tests:other']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(resultLines(forced.stderr), ['✓ tests:other succeeded (ran locally)'], forced.stderr);
    assert.equal(summaryLine(forced.stderr), '1 ran locally, 1 from the local cache', `the build step still comes from the cache:\n${forced.stderr}`);
  });

  it('says so when the specs select no tests', async () => {
    const r = await repo.trews(['test', 'gen:']);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, 'no tests to run: none of the 3 targets the specs select is a test\n');
  });
});

describe('tools', () => {
  let repo: ShellRepo;
  let bin: string;
  before(async () => {
    bin = await mkdtemp(join(tmpdir(), 'trews-tools-'));
    await writeFile(join(bin, 'greet'), '#!/bin/sh\necho "hello v1"\n', { mode: 0o755 });
    repo = await makeShellRepo({
      'trews.toml': `[shell]\nexecutable_search_paths = ["${bin}", "/usr/bin", "/bin"]\n`,
      'a/BUILD': 'test_shell_command(name="t", command="greet", tools=["greet"])\n',
    });
  });
  after(async () => {
    await repo.cleanup();
    await rm(bin, { recursive: true, force: true });
  });

  it("a tool's content digest is part of the cache key", async () => {
    assert.deepEqual(resultLines((await repo.trews(['test', 'a:t', '--test-output=all'])).stderr), ['✓ a:t succeeded (ran locally)']);
    assert.deepEqual(resultLines((await repo.trews(['test', 'a:t'])).stderr), ['✓ a:t succeeded (local cache)']);
    await writeFile(join(bin, 'greet'), '#!/bin/sh\necho "hello v2"\n', { mode: 0o755 });
    const r = await repo.trews(['test', 'a:t', '--test-output=all']);
    assert.deepEqual(resultLines(r.stderr), ['✓ a:t succeeded (ran locally)'], r.stderr);
    assert.match(r.stderr, /^ {2}hello v2$/m);
  });
});

describe('trews run', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo({
      'cmd/BUILD': [
        'files(name="data", sources=["data.txt"])',
        'run_shell_command(',
        '    name="ask",',
        '    command="read line; echo \\"got $line, args $*, data $(cat $CHROOT/cmd/data.txt), in $(basename $PWD)\\"; exit 7",',
        '    execution_dependencies=[":data"],',
        ')',
        'system_binary(name="node", binary_name="node", fingerprint="^v[0-9]+", fingerprint_args=["--version"])',
        '',
      ].join('\n'),
      'cmd/data.txt': 'forty-two',
    });
  });
  after(() => repo.cleanup());

  it('passes stdin through, appends the args after --, and propagates the exit code', async () => {
    const r = await repo.trews(['run', 'cmd:ask', '--', 'a', 'b c'], { input: 'yes\n' });
    assert.equal(r.stdout, 'got yes, args a b c, data forty-two, in cmd\n', r.stderr);
    assert.equal(r.code, 7, r.stderr);
  });

  it('runs a system_binary with its arguments', async () => {
    const r = await repo.trews(['run', 'cmd:node', '--', '-e', 'process.stdout.write(String(6 * 7)); process.exit(3)']);
    assert.equal(r.stdout, '42');
    assert.equal(r.code, 3);
  });
});

/** Entry names of a zip, from its central directory. */
function zipNames(buf: Buffer): string[] {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50);
    const len = buf.readUInt16LE(at + 28);
    names.push(buf.subarray(at + 46, at + 46 + len).toString('utf8'));
    at += 46 + len + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
  }
  return names;
}

describe('trews package', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo({
      'src/BUILD': [
        'files(name="docs", sources=["*.md"])',
        'shell_command(name="gen", command="mkdir -p out && echo generated > out/gen.txt && chmod +x out/gen.txt", tools=["mkdir", "chmod"], output_directories=["out"])',
        'archive(name="bundle", format="tar", files=[":docs", ":gen"])',
        'archive(name="zipped", format="zip", files=[":docs"], packages=[":bundle"], output_path="release/all.zip")',
        '',
      ].join('\n'),
      'src/a.md': 'alpha\n',
      'src/b.md': 'beta\n',
    });
  });
  after(() => repo.cleanup());

  it('writes archives into dist/ and lists them; their contents are the files at their paths', async () => {
    const r = await repo.trews(['package', 'src:']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stderr.split('\n').filter((l) => l.startsWith('✓ ')).sort(),
      ['✓ src:bundle: wrote dist/src/bundle.tar', '✓ src:zipped: wrote dist/release/all.zip'],
    );
    const tar = join(repo.root, 'dist/src/bundle.tar');
    assert.equal(execFileSync('tar', ['-tf', tar], { encoding: 'utf8' }), 'src/\nsrc/a.md\nsrc/b.md\nsrc/out/\nsrc/out/gen.txt\n');
    const out = await mkdtemp(join(tmpdir(), 'trews-untar-'));
    execFileSync('tar', ['-xf', tar, '-C', out]);
    assert.equal(await readFile(join(out, 'src/out/gen.txt'), 'utf8'), 'generated\n');
    assert.equal(await readFile(join(out, 'src/b.md'), 'utf8'), 'beta\n');
    assert.match(execFileSync('tar', ['-tvf', tar], { encoding: 'utf8' }), /^-rwxr-xr-x 0\/0 +10 1970-01-01 00:00 src\/out\/gen\.txt$/m);
    await rm(out, { recursive: true, force: true });

    const zip = await readFile(join(repo.root, 'dist/release/all.zip'));
    assert.deepEqual(zipNames(zip), ['src/', 'src/a.md', 'src/b.md', 'src/bundle.tar']);
  });

  it('is reproducible: the same inputs give the same bytes', async () => {
    const first = await readFile(join(repo.root, 'dist/src/bundle.tar'));
    await rm(join(repo.root, 'dist'), { recursive: true, force: true });
    const r = await repo.trews(['package', 'src:bundle', '--distdir=out/here']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^✓ src:bundle: wrote out\/here\/src\/bundle\.tar$/m);
    assert.deepEqual(await readFile(join(repo.root, 'out/here/src/bundle.tar')), first);
  });

  it('tar.gz decompresses to a tar', async () => {
    await repo.write('gz/BUILD', 'archive(name="g", format="tar.gz", files=["//src:docs"])\n');
    const r = await repo.trews(['package', 'gz:g']);
    assert.equal(r.code, 0, r.stderr);
    const tar = gunzipSync(await readFile(join(repo.root, 'dist/gz/g.tar.gz')));
    assert.equal(tar.subarray(257, 262).toString(), 'ustar');
    assert.equal(execFileSync('tar', ['-tzf', join(repo.root, 'dist/gz/g.tar.gz')], { encoding: 'utf8' }), 'src/\nsrc/a.md\nsrc/b.md\n');
  });
});

describe('shell errors are rendered as text with a location and a hint', () => {
  const cases: Array<{ name: string; files: Record<string, string>; args: string[]; code: number }> = [
    {
      name: 'shell-missing-tool',
      files: {
        'trews.toml': '[shell]\nexecutable_search_paths = ["/usr/bin", "/bin"]\n',
        'a/BUILD': 'test_shell_command(\n    name="t",\n    command="frobnicate --all",\n    tools=["cat", "frobnicate-no-such-tool"],\n)\n',
      },
      args: ['test', 'a:t'],
      code: 1,
    },
    {
      name: 'shell-unknown-environment',
      files: { 'a/BUILD': 'test_shell_command(name="c", command="true", environment="docker_linux")\n' },
      args: ['test', '::'],
      code: 1,
    },
    {
      name: 'shell-command-failed',
      files: {
        'a/BUILD': 'shell_command(\n    name="gen",\n    command="echo working; echo broken >&2; exit 4",\n    output_files=["x"],\n)\ntest_shell_command(name="t", command="true", execution_dependencies=[":gen"])\n',
      },
      args: ['test', 'a:t'],
      code: 1,
    },
    {
      name: 'shell-missing-output',
      files: { 'a/BUILD': 'shell_command(\n    name="gen",\n    command="true",\n    output_files=["made.txt"],\n)\narchive(name="z", format="zip", files=[":gen"])\n' },
      args: ['package', 'a:z'],
      code: 1,
    },
    {
      name: 'shell-execution-cycle',
      files: {
        'a/BUILD': 'shell_command(name="one", command="true", execution_dependencies=[":two"])\nshell_command(name="two", command="true", execution_dependencies=[":one"])\narchive(name="z", format="tar", files=[":one"])\n',
      },
      args: ['package', 'a:z'],
      code: 1,
    },
    { name: 'run-no-runnable-target', files: { 'a/BUILD': 'files(name="f", sources=["x.txt"])\n', 'a/x.txt': '' }, args: ['run', 'a:'], code: 1 },
    {
      name: 'run-several-runnable-targets',
      files: { 'a/BUILD': 'run_shell_command(name="one", command="true")\nrun_shell_command(name="two", command="true")\n' },
      args: ['run', 'a:'],
      code: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const repo = await makeShellRepo(c.files);
      try {
        const r = await repo.trews(c.args);
        assertGolden(`errors/${c.name}`, r.stderr.split(repo.root).join('<root>'));
        assert.equal(r.code, c.code, r.stderr);
      } finally {
        await repo.cleanup();
      }
    });
  }
});

/** Alive and not a zombie (some container inits never reap orphans; a zombie runs nothing). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

describe('cancellation', () => {
  it('Ctrl-C during a long test kills every process it started and leaves no sandbox', async () => {
    const pids = await mkdtemp(join(tmpdir(), 'trews-pids-'));
    const repo = await makeShellRepo({
      'a/BUILD': [
        'test_shell_command(',
        '    name="long",',
        '    command="sleep 60 & echo $! >> $PIDS/$$; sleep 60 & echo $! >> $PIDS/$$; echo $$ >> $PIDS/$$; wait",',
        '    tools=["sleep"],',
        '    extra_env_vars=["PIDS"],',
        ')',
        'test_shell_command(name="long2", command="sleep 60", tools=["sleep"])',
        '',
      ].join('\n'),
    });
    try {
      const child = spawn(join(repoRoot(), 'bin', 'trews'), ['test', 'a:'], {
        cwd: repo.root,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...repo.env, PIDS: pids },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // Wait until the test's shell has written its own pid (after both sleeps).
      const started: number[] = [];
      await waitUntil(() => {
        for (const f of readdirSync(pids)) {
          const ps = readFileSync(join(pids, f), 'utf8').split('\n').filter(Boolean).map(Number);
          if (ps.length === 3) started.splice(0, started.length, ...ps);
        }
        return started.length === 3;
      }, `the test to start: ${stderr}`, 60_000);
      const sandboxes = repo.sandboxes;
      assert.ok((await readdir(sandboxes)).length >= 1, 'a sandbox exists while the test runs');
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, stderr);
      assert.match(stderr, /cancelled/);
      for (const pid of started) assert.equal(isRunning(pid), false, `process ${pid} is still running`);
      assert.deepEqual(await readdir(sandboxes), [], 'no sandbox is left behind');
    } finally {
      await repo.cleanup();
      await rm(pids, { recursive: true, force: true });
    }
  });
});

describe('gc', () => {
  it('shrinks the store to --max-size and says what it removed', async () => {
    const repo = await makeShellRepo({ 'a/BUILD': 'test_shell_command(name="t", command="echo some output", tools=[])\n' });
    try {
      assert.equal((await repo.trews(['test', 'a:t'])).code, 0);
      const r = await repo.trews(['gc', '--max-size=0']);
      assert.equal(r.code, 0, r.stderr);
      const text = r.stdout.split(repo.store).join('<store>');
      assert.match(text, /^local store <store>, limit 0 B:\n {2}removed [1-9]\d* entries \(\d+(\.\d)? [KMG]?i?B\) and 0 abandoned temp files\n {2}0 entries \(0 B\) remain\n$/);
      // Everything went: the test runs again.
      const again = await repo.trews(['test', 'a:t']);
      assert.deepEqual(resultLines(again.stderr), ['✓ a:t succeeded (ran locally)'], again.stderr);
    } finally {
      await repo.cleanup();
    }
  });
});
