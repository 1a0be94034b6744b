// What a person sees of `trews test`, through the real CLI: into a pipe (CI)
// and on a terminal (a pseudo-terminal from util-linux `script`): results as
// they finish, the still-running line of a quiet pipe, the recap in natural
// order, the summary line, colour, --loop and --trace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertGolden, collectOutput, repoRoot, runTrews, spawnTrews, stableResults, waitUntil, withRepo, type CliResult } from './helpers/index.js';

const ESC = '\x1b';

function uncoloured(text: string): string {
  return text.replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '');
}

/**
 * A tiny terminal: applies the live area's `ESC[nF ESC[0J` (up n lines, clear
 * below) and drops colours, leaving the screen the person is left with.
 */
function finalScreen(raw: string): string {
  const lines: string[] = [''];
  const text = raw.replace(/\r\n/g, '\n').replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '');
  const re = new RegExp(`${ESC}\\[(\\d*)F${ESC}\\[0J|\\n|[^\\n${ESC}]+`, 'g');
  for (const m of text.matchAll(re)) {
    if (m[0] === '\n') lines.push('');
    else if (m[1] !== undefined) {
      lines.splice(Math.max(0, lines.length - 1 - Number(m[1] || 1)));
      lines.push('');
    } else lines[lines.length - 1] += m[0];
  }
  return lines.join('\n');
}

/** trews in a pseudo-terminal (`script` from util-linux): stdout and stderr are the terminal, whose output we read live. */
function spawnInTerminal(args: readonly string[], cwd: string, env: Record<string, string>): { output: () => string; result: Promise<CliResult>; kill: () => void } {
  const command = [join(repoRoot(), 'bin', 'trews'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TREWS_DAEMON: 'false', TERM: 'xterm', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const { output, result } = collectOutput(child, `script ${command}`, 120_000);
  child.stdin.end();
  return { output: () => output().stdout, result, kill: () => child.exitCode === null && child.kill('SIGKILL') };
}

/** A quick test and a slow one that runs until `$SCRATCH/go` exists. */
const QUICK_AND_SLOW = {
  BUILD: [
    'test_shell_command(name="quick", command="true")',
    'test_shell_command(name="slow", command="while [ ! -e $SCRATCH/go ]; do sleep 0.05; done", tools=["sleep"], extra_env_vars=["SCRATCH"])',
    '',
  ].join('\n'),
};

const SMALL_REPO = {
  BUILD: [
    'test_shell_command(name="p1", command="true")',
    'test_shell_command(name="p2", command="echo p2 is broken; exit 3")',
    'test_shell_command(name="p10", command="exit 1")',
    'shell_command(name="gen", command="exit 4")',
    'test_shell_command(name="u1", command="true", execution_dependencies=[":gen"])',
    'test_shell_command(name="u2", command="true", execution_dependencies=[":gen"])',
    '',
  ].join('\n'),
  'ok/BUILD': 'test_shell_command(name="t", command="true")\n',
};

describe('trews test into a pipe', () => {
  it('prints each result, then the failures in natural order (p2 before p10), a blocked build step once, and one summary', async () => {
    await withRepo(SMALL_REPO, async (repo, env) => {
      const first = await runTrews(['test', '::'], { cwd: repo.root, env });
      assert.equal(first.code, 1, first.stderr);
      assert.doesNotMatch(first.stderr, new RegExp(ESC), 'no colour into a pipe');
      const second = await runTrews(['test', '::'], { cwd: repo.root, env });
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, /✓ ok:t succeeded in .* \(local cache\)/);
      assertGolden(
        'console/test-piped',
        `$ trews test ::\n${stableResults(first.stderr)}$ trews test ::   (again: passing tests come from the cache)\n${stableResults(second.stderr)}`,
      );
    });
  });

  it('prints a result as soon as it finishes, and what is still running after 10 s of quiet', async () => {
    await withRepo(
      QUICK_AND_SLOW,
      async (repo, env) => {
        const t = spawnTrews(['test', '::'], { cwd: repo.root, env: { ...env, SCRATCH: repo.root } });
        try {
          await waitUntil(() => t.output().stderr.includes('✓ //:quick succeeded'), 'the quick result while the slow test runs');
          assert.doesNotMatch(t.output().stderr, /✓ \/\/:slow|Tests:/, 'the slow test is still running');
          // QUIET_MS is 10 s: waited for as an event, with a deadline well past it.
          const stillRunning = /^\[1\/2 tests\] still running: Run test_shell_command \/\/:slow \(\d+\.\ds\)$/m;
          await waitUntil(() => stillRunning.test(t.output().stderr), 'the still-running line', 60_000);
          assert.doesNotMatch(t.output().stderr, /Tests:/);
          await writeFile(join(repo.root, 'go'), '');
          const r = await t.result;
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stderr, /✓ \/\/:slow succeeded in .*\nTests: 2 passed, 2 total · Processes: 2 ran locally · Time: /);
        } finally {
          if (t.child.exitCode === null) t.child.kill('SIGKILL');
        }
      },
    );
  });

  it('is coloured when FORCE_COLOR says so, and not with NO_COLOR or --colors=false', async () => {
    await withRepo({ BUILD: 'test_shell_command(name="t", command="true")\n' }, async (repo, env) => {
      const forced = await runTrews(['test', '::'], { cwd: repo.root, env: { ...env, FORCE_COLOR: '1' } });
      assert.equal(forced.code, 0, forced.stderr);
      assert.ok(forced.stderr.includes(`${ESC}[32m✓${ESC}[39m`), JSON.stringify(forced.stderr));
      const off = await runTrews(['test', '::', '--colors=false'], { cwd: repo.root, env: { ...env, FORCE_COLOR: '1' } });
      assert.doesNotMatch(off.stderr, new RegExp(ESC));
    });
  });
});

describe('trews test on a terminal', () => {
  it('shows [done/total] over the running processes, keeps each result, and ends with the summary', async () => {
    await withRepo(
      QUICK_AND_SLOW,
      async (repo, env) => {
        const scratch = repo.root;
        const run = spawnInTerminal(['test', '::'], repo.root, { ...env, SCRATCH: scratch });
        try {
          // The slow test waits for a gate, opened once the terminal shows it running.
          await waitUntil(() => /\[1\/2 tests\] 1 process running/.test(run.output()), 'the live area with the slow test running');
          await writeFile(join(repo.root, 'go'), '');
        } catch (e) {
          run.kill();
          throw e;
        }
        const r = await run.result;
        assert.equal(r.code, 0, r.stdout);
        const raw = r.stdout;
        assert.match(uncoloured(raw), /\[1\/2 tests\] 1 process running\r?\n +\d+\.\ds {2}Run test_shell_command \/\/:slow/, 'the live area, while the slow test runs');
        assert.ok(raw.includes(`${ESC}[32m✓${ESC}[39m`), 'colour on a terminal');
        assert.match(raw, new RegExp(`${ESC}\\[\\d+F${ESC}\\[0J`), 'the live area is redrawn in place');
        assertGolden('console/test-terminal', `$ trews test ::   (the final screen)\n${finalScreen(raw)}`);
        const plain = await spawnInTerminal(['test', '::', '--force'], repo.root, { ...env, SCRATCH: scratch, NO_COLOR: '1' }).result;
        assert.equal(plain.code, 0, plain.stdout);
        assert.doesNotMatch(plain.stdout.replace(new RegExp(`${ESC}\\[\\d*F|${ESC}\\[0J`, 'g'), ''), new RegExp(ESC), 'NO_COLOR: no colour');
      },
    );
  });
});

describe('--loop', () => {
  it('prints again only the tests that ran again, and the summary', async () => {
    await withRepo(
      {
        'a/BUILD': 'files(name="in", sources=["in.txt"])\ntest_shell_command(name="t", command="true", execution_dependencies=[":in"])\n',
        'a/in.txt': 'one\n',
        'b/BUILD': 'test_shell_command(name="t", command="true")\n',
      },
      async (repo, env) => {
        const loop = spawnTrews(['--loop', 'test', '::'], { cwd: repo.root, env });
        try {
          const waits = (): number => (loop.output().stderr.match(/waiting for changes/g) ?? []).length;
          await waitUntil(() => waits() === 1, 'the first iteration');
          const firstLen = loop.output().stderr.length;
          assert.match(loop.output().stderr, /✓ a:t succeeded/);
          assert.match(loop.output().stderr, /✓ b:t succeeded/);
          await repo.write('a/in.txt', 'two\n');
          await waitUntil(() => waits() === 2, 'the second iteration');
          const again = loop.output().stderr.slice(firstLen);
          assert.match(again, /^trews: a\/in\.txt changed; running again\n✓ a:t succeeded in \S+ \(ran locally\)\nTests: 2 passed, 2 total \(1 memoized\) · Processes: 1 ran locally · Time: \S+\ntrews: waiting for changes/, again);
          assert.doesNotMatch(again, /b:t/);
          loop.child.kill('SIGINT');
          await loop.result;
        } finally {
          if (loop.child.exitCode === null) loop.child.kill('SIGKILL');
        }
      },
    );
  });
});

describe('--trace', () => {
  it('writes a Chrome trace with every process, its cache source and the engine phases', async () => {
    await withRepo({ BUILD: 'test_shell_command(name="t", command="true")\n' }, async (repo, env) => {
      const r = await runTrews(['test', '::', '--trace'], { cwd: repo.root, env });
      assert.equal(r.code, 0, r.stderr);
      const path = join(repo.root, '.trews.d', 'trace.json');
      assert.match(r.stderr, /trews: wrote the trace of this run to .*\.trews\.d\/trace\.json/);
      const trace = JSON.parse(readFileSync(path, 'utf8')) as { traceEvents: { name: string; cat?: string; ph: string; ts: number; dur?: number; args?: Record<string, unknown> }[] };
      const processes = trace.traceEvents.filter((e) => e.cat?.startsWith('process'));
      assert.ok(processes.length >= 1);
      const test = processes.find((e) => e.name === 'Run test_shell_command //:t');
      assert.ok(test !== undefined, JSON.stringify(processes));
      assert.equal(test.ph, 'X');
      assert.equal(test.args?.['source'], 'ran locally');
      assert.equal(test.args?.['exit_code'], 0);
      assert.match(String(test.args?.['action_digest']), /^[0-9a-f]{64}\/\d+$/);
      const phases = trace.traceEvents.filter((e) => e.cat === 'phase').map((e) => e.name);
      for (const p of ['read options', 'goal test', 'select targets']) assert.ok(phases.includes(p), `${p} in ${phases.join(', ')}`);

      const cached = await runTrews(['test', '::', '--trace'], { cwd: repo.root, env });
      assert.equal(cached.code, 0, cached.stderr);
      const again = JSON.parse(readFileSync(path, 'utf8')) as typeof trace;
      assert.ok(again.traceEvents.some((e) => e.cat === 'process,local cache'), 'the second run is served from the local cache');
    });
  });
});
