// Every user error the core can produce, through the real CLI, as text: what,
// where (file:line:col with a caret), what to do, and the exit code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertGolden, makeRepo, runTrews } from './helpers/index.js';

interface Case {
  readonly name: string;
  readonly files: Record<string, string>;
  readonly args: string[];
  readonly code: number;
  readonly env?: Record<string, string>;
  readonly cwd?: string;
}

const cases: Case[] = [
  {
    name: 'unknown-dependency',
    files: {
      'lib/BUILD': 'target(name="util")\n',
      'app/BUILD': 'target(\n    name="app",\n    dependencies=["//lib:utl"],\n)\n',
      'BUILD': 'target(name="root", dependencies=["app"])\n',
    },
    args: ['dependencies', '--transitive', '//:root'],
    code: 1,
  },
  { name: 'unknown-field', files: { 'BUILD': 'files(name="x", sourcse=["*.txt"])\n' }, args: ['list', '::'], code: 1 },
  { name: 'unknown-target-type', files: { 'a/BUILD': 'fles(name="x")\n' }, args: ['list', '::'], code: 1 },
  { name: 'syntax-error', files: { 'a/BUILD': 'target(\n    name="x",\n    dependencies=["a" "b",\n)\n' }, args: ['list', '::'], code: 1 },
  { name: 'unsupported-statement', files: { 'a/BUILD': 'import os\ntarget()\n' }, args: ['list', '::'], code: 1 },
  { name: 'wrong-field-type', files: { 'a/BUILD': 'target(tags=["ok", 3])\n' }, args: ['list', '::'], code: 1 },
  { name: 'missing-required-field', files: { 'a/BUILD': 'files(name="x")\n' }, args: ['list', '::'], code: 1 },
  { name: 'missing-source-file', files: { 'a/BUILD': 'file(name="x", source="nope.txt")\n' }, args: ['list', '::'], code: 1 },
  { name: 'duplicate-target', files: { 'a/BUILD': 'target(name="x")\n\ntarget(name="x")\n' }, args: ['list', '::'], code: 1 },
  {
    name: 'dependency-cycle',
    files: { 'a/BUILD': 'target(dependencies=["b"])\n', 'b/BUILD': 'target(dependencies=["c"])\n', 'c/BUILD': 'target(dependencies=["a"])\n' },
    args: ['dependencies', '--transitive', 'a'],
    code: 1,
  },
  { name: 'spec-matches-nothing', files: { 'a/BUILD': 'target()\n', 'b/x.txt': '' }, args: ['list', 'b:'], code: 1 },
  { name: 'spec-path-missing', files: { 'a/BUILD': 'target()\n' }, args: ['list', 'nope/x.txt'], code: 1 },
  { name: 'unknown-target-spec', files: { 'a/BUILD': 'target(name="alpha")\n' }, args: ['list', 'a:alhpa'], code: 1 },
  { name: 'unknown-flag', files: { 'a/BUILD': 'target()\n' }, args: ['list', '::', '--remte-execution'], code: 2 },
  { name: 'unknown-config-section', files: { 'trews.toml': '[GLOBAL]\nlevel = "debug"\n\n[tset]\ntimeout = 3\n' }, args: ['list', '::'], code: 2 },
  { name: 'unknown-env-var', files: { 'a/BUILD': 'target()\n' }, args: ['list', '::'], code: 2, env: { TREWS_REMOTE_EXECUTON: 'true' } },
  { name: 'bad-option-value', files: { 'a/BUILD': 'target()\n' }, args: ['list', '::', '--level=loud'], code: 2 },
  { name: 'no-specs', files: { 'a/BUILD': 'target()\n' }, args: ['list'], code: 2 },
  { name: 'no-goal', files: { 'a/BUILD': 'target()\n' }, args: ['::'], code: 2 },
  { name: 'unknown-help-topic', files: {}, args: ['help', 'fiels'], code: 2 },
  { name: 'unknown-goal', files: { 'a/BUILD': 'target()\n' }, args: ['tset', '::'], code: 2 },
  { name: 'spec-dir-missing', files: { 'app/BUILD': 'target()\n' }, args: ['list', 'aap::'], code: 1 },
  { name: 'spec-target-as-path', files: { 'a/BUILD': 'target(name="p2")\n' }, args: ['list', 'a/p2'], code: 1 },
  { name: 'spec-path-near', files: { 'a/BUILD': 'files(name="d", sources=["data.txt"])\n', 'a/data.txt': '' }, args: ['list', 'a/dat.txt'], code: 1 },
  { name: 'unmatched-glob', files: { 'a/BUILD': 'files(name="x", sources=["*.txt"])\n', 'a/readme.md': '' }, args: ['list', '::'], code: 1 },
  { name: 'unmatched-glob-near-dir', files: { 'a/BUILD': 'files(name="x", sources=["srcs/*.txt"])\n', 'a/src/x.txt': '' }, args: ['list', '::'], code: 1 },
  {
    name: 'missing-execution-dependency',
    files: { 'a/BUILD': 'test_shell_command(name="t", command="true", execution_dependencies=["./mak.sh"])\n', 'a/make.sh': '' },
    args: ['test', '::'],
    code: 1,
  },
  { name: 'toml-unquoted-string', files: { 'trews.toml': '[GLOBAL]\nlevel = debug\n' }, args: ['list', '::'], code: 2 },
  { name: 'toml-unclosed-header', files: { 'trews.toml': '[GLOBAL\nlevel = "debug"\n' }, args: ['list', '::'], code: 2 },
  { name: 'toml-unclosed-string', files: { 'trews.toml': '[GLOBAL]\nlevel = "debug\n' }, args: ['list', '::'], code: 2 },
  { name: 'command-not-found', files: { BUILD: 'test_shell_command(name="t", command="jq . x.json")\n' }, args: ['test', '::'], code: 1 },
  {
    name: 'test-in-execution-dependencies-cycle',
    files: {
      'a/BUILD': 'test_shell_command(name="t", command="true", execution_dependencies=[":gen"])\nshell_command(name="gen", command="true", execution_dependencies=[":t"])\n',
    },
    args: ['test', '::'],
    code: 1,
  },
  { name: 'unowned-file-dependency', files: { 'a/BUILD': 'target(dependencies=["./data.txt"])\n', 'a/data.txt': '' }, args: ['dependencies', 'a'], code: 1 },
];

describe('user errors are rendered as text with a location and a hint', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const repo = await makeRepo(c.files);
      try {
        const r = await runTrews(c.args, { cwd: repo.root, ...(c.env ? { env: c.env } : {}) });
        const stderr = r.stderr.split(repo.root).join('<root>');
        assert.equal(r.code, c.code, `exit code of trews ${c.args.join(' ')}; stderr:\n${stderr}`);
        assert.equal(r.stdout, '');
        assert.doesNotMatch(stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
        assertGolden(`errors/${c.name}`, `$ trews ${c.args.join(' ')}\n${stderr}`);
      } finally {
        await repo.cleanup();
      }
    });
  }

  it('no build root', async () => {
    const r = await runTrews(['list', '::'], { cwd: '/' });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'error: no trews.toml found in / or any directory above it\n  create an empty trews.toml at the root of your repository; it marks the build root\n');
  });
});
