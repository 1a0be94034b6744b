// The bench scripts as a user runs them: a wrong flag is a message and the
// script's usage with exit code 2, never a stack trace; --help is the usage.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const here = dirname(fileURLToPath(import.meta.url));
const run = (script: string, ...args: string[]) => spawnSync(process.execPath, [join(here, script), ...args], { encoding: 'utf8', timeout: 30_000 });

describe('bench script flags', () => {
  it('an unknown flag and a flag without its value: the problem, the usage, exit 2, no stack trace', () => {
    for (const [script, args, problem] of [
      ['peers/peers-bench.js', ['--bogus'], /peers-bench\.js: Unknown option '--bogus'/],
      ['ts-peers/generate-ts-repo.js', ['--packages'], /generate-ts-repo\.js: Option '--packages <value>' argument missing/],
      ['shell-bench.js', ['--nope=1'], /shell-bench\.js: Unknown option '--nope'/],
    ] as const) {
      const r = run(script, ...args);
      assert.equal(r.status, 2, `${script}: ${r.stderr}`);
      assert.match(r.stderr, problem);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.match(r.stderr, /node dist\/bench\//, 'the usage, from the script\'s opening comment');
    }
  });

  it('--help prints the usage and exits 0', () => {
    const r = run('peers/peers-bench.js', '--help');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Times trews against Bazel, Turborepo and Nx/);
  });
});
