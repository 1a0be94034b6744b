// End-to-end: adhoc_tool, extra_env_vars, workdir, test timeouts, kept
// sandboxes and the automatic bound on the local store, through the real CLI.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeShellRepo, resultLines, type ShellRepo } from './helpers/shell.js';

describe('adhoc_tool, extra_env_vars and workdir', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo({
      'tools/BUILD': [
        'system_binary(name="node", binary_name="node", fingerprint="^v\\\\d+\\\\.", fingerprint_args=["--version"])',
        'shell_sources(name="scripts")',
        '',
      ].join('\n'),
      'tools/stamp.sh': 'echo "stamp $1 $GREETING" > stamp.txt\n',
      'gen/BUILD': [
        // A system_binary runnable, its stdout captured into a file.
        'adhoc_tool(name="version", runnable="//tools:node", args=["-e", "console.log(6 * 7)"], stdout="answer.txt")',
        // A shell_source runnable, with an env var set, writing in the build root.
        'adhoc_tool(',
        '    name="stamp",',
        '    runnable="//tools/stamp.sh:scripts",',
        '    args=["one"],',
        '    extra_env_vars=["GREETING=hi"],',
        '    output_files=["stamp.txt"],',
        '    workdir="/",',
        ')',
        'test_shell_command(',
        '    name="test",',
        '    command="cat gen/answer.txt stamp.txt; echo \\"passed=$FROM_CLIENT unset=${NOT_SET-none}\\"",',
        '    tools=["cat"],',
        '    execution_dependencies=[":version", ":stamp"],',
        '    extra_env_vars=["FROM_CLIENT", "NOT_SET"],',
        '    workdir="/",',
        ')',
        '',
      ].join('\n'),
    });
  });
  after(() => repo.cleanup());

  it("builds with both runnables, and the test sees their outputs and the client's variable", async () => {
    const r = await repo.trews(['test', 'gen:test', '--test-output=all'], { env: { FROM_CLIENT: 'yes' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^gen:test stdout:\n {2}42\n {2}stamp one hi\n {2}passed=yes unset=none\n/m);
    // The client's value is part of the cache key: another value runs the test again.
    const same = await repo.trews(['test', 'gen:test'], { env: { FROM_CLIENT: 'yes' } });
    assert.deepEqual(resultLines(same.stderr), ['✓ gen:test succeeded (local cache)'], same.stderr);
    const other = await repo.trews(['test', 'gen:test'], { env: { FROM_CLIENT: 'no' } });
    assert.deepEqual(resultLines(other.stderr), ['✓ gen:test succeeded (ran locally)'], other.stderr);
  });

  it('shows the special-cased dependency fields in `dependencies`', async () => {
    const r = await repo.trews(['dependencies', 'gen:test', 'gen:version']);
    // gen:version is among the roots, so it is not listed (without --closed).
    assert.equal(r.stdout, 'gen:stamp\ntools:node\n');
  });
});

describe('[test] timeouts and --keep-sandboxes', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo({
      'a/BUILD': [
        // Far longer than the CLI is given in these tests (runTrews' deadline): only a kill ends it in time.
        'test_shell_command(name="slow", command="sleep 600", tools=["sleep"])',
        'test_shell_command(name="broken", command="echo oops > note.txt; exit 1")',
        '',
      ].join('\n'),
    });
  });
  after(() => repo.cleanup());

  it('timeout_default applies to a test without its own timeout, and a timed-out test fails', async () => {
    const r = await repo.trews(['test', 'a:slow', '--test-timeout-default=1']);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(resultLines(r.stderr), ['✕ a:slow timed out after 1s (ran locally)'], r.stderr);
  });

  it('--keep-sandboxes=on_failure keeps the sandbox of a failed test and says where, with a __run.sh', async () => {
    const r = await repo.trews(['test', 'a:broken', '--keep-sandboxes=on_failure']);
    assert.equal(r.code, 1, r.stderr);
    const m = /^kept the sandbox of `Run test_shell_command a:broken` at (\S+) \(run \S+\/__run\.sh to reproduce it\)$/m.exec(r.stderr);
    assert.ok(m, r.stderr);
    const dir = m[1]!;
    assert.ok(existsSync(join(dir, '__run.sh')));
    assert.equal(readFileSync(join(dir, 'root', 'a', 'note.txt'), 'utf8'), 'oops\n');
    // Without the flag nothing is kept.
    const sandboxes = repo.sandboxes;
    const before = (await readdir(sandboxes)).length;
    await repo.trews(['test', 'a:broken']);
    assert.equal((await readdir(sandboxes)).length, before);
  });
});

describe('the automatic bound on the local store', () => {
  it('collects garbage after a run that took the store over local_store_max_size', async () => {
    const repo = await makeShellRepo({
      'a/BUILD': 'test_shell_command(name="t", command="head -c 20000 /dev/zero | tr \\"\\\\\\\\0\\" x", tools=["head", "tr"])\n',
    });
    try {
      const r = await repo.trews(['test', 'a:t', '--local-store-max-size=4KiB']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^the local store was over local_store_max_size \(4\.0 KiB\): removed \d+ entries \(\d+(\.\d)? KiB\); \d+(\.\d)? (KiB|B) remain$/m);
      const estimate = JSON.parse(readFileSync(join(repo.store, 'size-estimate.json'), 'utf8')) as { bytes: number };
      assert.ok(estimate.bytes <= 4096 * 0.8, `store is ${estimate.bytes} bytes`);
      // Under the limit: nothing to say.
      const quiet = await repo.trews(['test', 'a:t']);
      assert.doesNotMatch(quiet.stderr, /local store was over/);
    } finally {
      await repo.cleanup();
    }
  });
});

describe('the sandbox of a process over a lattice of dependencies', () => {
  // Two targets per layer, each depending on both of the layer below: 2^k paths
  // lead from the top to layer k, all of the same length. The input closure
  // walked each path (a target once per way of reaching it in its breadth-first
  // walk) until the process ran out of memory; it must walk each target once.
  const LAYERS = 40;
  let repo: ShellRepo;
  before(async () => {
    const lines: string[] = [];
    const files: Record<string, string> = {};
    for (let i = 0; i < LAYERS; i++) {
      for (const side of ['a', 'b']) {
        const deps = i === 0 ? '' : `":a${i - 1}", ":b${i - 1}"`;
        lines.push(`files(name="${side}${i}", sources=["${side}${i}.txt"], dependencies=[${deps}])`);
        files[`lattice/${side}${i}.txt`] = `${side}${i}\n`;
      }
    }
    lines.push(
      `test_shell_command(name="all", command="ls *.txt | wc -l", tools=["ls", "wc"], execution_dependencies=[":a${LAYERS - 1}", ":b${LAYERS - 1}"])`,
    );
    files['lattice/BUILD'] = `${lines.join('\n')}\n`;
    repo = await makeShellRepo(files);
  });
  after(() => repo.cleanup());

  it('holds every file of the closure, each target walked once', { timeout: 180_000 }, async () => {
    const r = await repo.trews(['test', 'lattice:all', '--test-output=all']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^lattice:all stdout:\\n +${2 * LAYERS}\\n`, 'm'));
  });
});

describe('a command that needs no shell runs its tool without bash', () => {
  let repo: ShellRepo;
  // Prints what the process sees: its argv after the script, its environment, its working directory.
  const script = 'console.log(JSON.stringify({ args: process.argv.slice(2), env: process.env, cwd: process.cwd().split("/").slice(-1)[0] }));\n';
  before(async () => {
    repo = await makeShellRepo({
      'a/see.js': script,
      'a/BUILD': [
        'files(name="js", sources=["see.js"])',
        'test_shell_command(name="plain", command="node see.js one two=2 ../x", tools=["node"], execution_dependencies=[":js"])',
        // Needs bash: an expansion, a builtin as first word, BASH_ENV set.
        'test_shell_command(name="expands", command="node see.js $HOME", tools=["node"], execution_dependencies=[":js"], extra_env_vars=["HOME=/h"])',
        'test_shell_command(name="builtin", command="command node see.js", tools=["node"], execution_dependencies=[":js"])',
        'test_shell_command(name="bashenv", command="node see.js", tools=["node"], execution_dependencies=[":js"], extra_env_vars=["BASH_ENV=/dev/null"])',
        '',
      ].join('\n'),
    });
  });
  after(() => repo.cleanup());

  const seen = (stderr: string, name: string): { args: string[]; env: Record<string, string>; cwd: string } => {
    const m = new RegExp(`^a:${name} stdout:\\n {2}(.*)$`, 'm').exec(stderr);
    assert.ok(m, stderr);
    return JSON.parse(m[1]!) as { args: string[]; env: Record<string, string>; cwd: string };
  };

  it('sees exactly its words, PATH (made absolute by the shim) and PWD; through bash it also sees SHLVL and _', async () => {
    const r = await repo.trews(['test', 'a:', '--test-output=all']);
    assert.equal(r.code, 0, r.stderr);
    const plain = seen(r.stderr, 'plain');
    assert.deepEqual(plain.args, ['one', 'two=2', '../x']);
    assert.deepEqual(Object.keys(plain.env).sort(), ['PATH', 'PWD']);
    assert.match(plain.env['PATH']!, /^\/.*\/\.trews-tools$/);
    assert.equal(plain.cwd, 'a');
    // The others went through bash, which adds SHLVL and _.
    const expands = seen(r.stderr, 'expands');
    assert.deepEqual(expands.args, ['/h']);
    assert.deepEqual(Object.keys(expands.env).sort(), ['HOME', 'PATH', 'PWD', 'SHLVL', '_']);
    assert.deepEqual(Object.keys(seen(r.stderr, 'builtin').env).sort(), ['PATH', 'PWD', 'SHLVL', '_']);
    assert.deepEqual(Object.keys(seen(r.stderr, 'bashenv').env).sort(), ['BASH_ENV', 'PATH', 'PWD', 'SHLVL', '_']);
  });
});
