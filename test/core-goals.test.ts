// End-to-end: the introspection goals through the real CLI, on the bundled
// example and on temp build roots.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRepo, repoRoot, runTrews, type TempRepo } from './helpers/index.js';

const examples = join(repoRoot(), 'examples');

async function ok(args: string[], cwd: string, env?: Record<string, string>): Promise<string> {
  const r = await runTrews(args, { cwd, ...(env ? { env } : {}) });
  assert.equal(r.code, 0, `trews ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

describe('list on the example', () => {
  it('lists every target, generated ones included, sorted', async () => {
    assert.equal(
      await ok(['list', '::'], examples),
      [
        '//:examples',
        '//:site',
        'app/bundle.mjs:scripts',
        'app/check.sh:checks',
        'app/config/app.json:../config',
        'app:app',
        'app:bundle',
        'app:checks',
        'app:config',
        'app:scripts',
        'app:show',
        'app:test',
        'docs:readme',
        'greeting/cards_test.mjs:scripts',
        'greeting/hello.txt:greeting',
        'greeting/make-cards.mjs:scripts',
        'greeting/names.txt:greeting',
        'greeting:cards',
        'greeting:greeting',
        'greeting:scripts',
        'greeting:test',
        '',
      ].join('\n'),
    );
  });

  it('resolves specs relative to the working directory, and // from the root', async () => {
    assert.equal(
      await ok(['list', ':'], join(examples, 'greeting')),
      [
        'greeting/cards_test.mjs:scripts',
        'greeting/hello.txt:greeting',
        'greeting/make-cards.mjs:scripts',
        'greeting/names.txt:greeting',
        'greeting:cards',
        'greeting:greeting',
        'greeting:scripts',
        'greeting:test',
        '',
      ].join('\n'),
    );
    assert.equal(await ok(['list', '//docs:readme'], join(examples, 'greeting')), 'docs:readme\n');
  });
});

describe('peek', () => {
  it('prints JSON with the type, BUILD file and line, and every field', async () => {
    const out = JSON.parse(await ok(['peek', 'app:app'], examples)) as Record<string, unknown>[];
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], {
      address: 'app:app',
      target_type: 'target',
      build_file: 'app/BUILD',
      line: 6,
      description: 'The greeting app: its configuration and the words it uses.',
      name: 'app',
      tags: ['app'],
      dependencies_raw: [':config', '//greeting'],
      dependencies: ['app:config', 'greeting:greeting'],
    });
  });

  it('shows a generated target with its source and generator', async () => {
    const [t] = JSON.parse(await ok(['peek', 'greeting/hello.txt:greeting'], examples)) as Record<string, unknown>[];
    assert.equal(t!.target_type, 'file');
    assert.equal(t!.source, 'hello.txt');
    assert.equal(t!.generated_from, 'greeting:greeting');
    assert.deepEqual(t!.source_files, ['greeting/hello.txt']);
    assert.deepEqual(t!.tags, ['data']);
  });
});

describe('dependencies, dependents, filedeps', () => {
  it('direct and transitive dependencies', async () => {
    assert.equal(await ok(['dependencies', '//:examples'], examples), 'app:app\ndocs:readme\n');
    assert.equal(
      await ok(['dependencies', '--transitive', '//:examples'], examples),
      ['app/config/app.json:../config', 'app:app', 'app:config', 'docs:readme', 'greeting/hello.txt:greeting', 'greeting/names.txt:greeting', 'greeting:greeting', ''].join('\n'),
    );
  });

  it('direct and transitive dependents', async () => {
    assert.equal(await ok(['dependents', 'greeting/hello.txt:greeting'], examples), 'greeting:greeting\n');
    // The shell targets' execution dependencies count as dependencies here, as Pants' special-cased dependency fields do.
    assert.equal(
      await ok(['dependents', '--transitive', 'greeting/hello.txt:greeting'], examples),
      ['//:examples', '//:site', 'app:app', 'app:bundle', 'app:show', 'app:test', 'greeting:cards', 'greeting:greeting', 'greeting:test', ''].join('\n'),
    );
  });

  it('filedeps lists BUILD files and sources', async () => {
    assert.equal(await ok(['filedeps', 'app:config'], examples), 'app/BUILD\napp/config/app.json\n');
    assert.equal(
      await ok(['filedeps', '--transitive', 'app:app'], examples),
      ['app/BUILD', 'app/config/app.json', 'greeting/BUILD', 'greeting/hello.txt', 'greeting/names.txt', ''].join('\n'),
    );
  });

  it('a chain of 12,000 targets in one BUILD file: transitive dependencies and dependents, complete and in order', async () => {
    // Each lookup of a target in its directory once scanned every target there,
    // which made this chain take ~27 s (bench/dependency-chain.ts has the figures).
    const n = 12_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`target(name="t${i}"${i + 1 < n ? `, dependencies=[":t${i + 1}"]` : ''})`);
    const repo = await makeRepo({ 'chain/BUILD': `${lines.join('\n')}\n` });
    try {
      const expected = Array.from({ length: n - 1 }, (_, i) => `chain:t${i + 1}`).sort();
      assert.equal(await ok(['dependencies', '--transitive', 'chain:t0'], repo.root), `${expected.join('\n')}\n`);
      const dependents = Array.from({ length: n - 1 }, (_, i) => `chain:t${i}`).sort();
      assert.equal(await ok(['dependents', '--transitive', `chain:t${n - 1}`], repo.root), `${dependents.join('\n')}\n`);
      assert.equal(await ok(['filedeps', '--transitive', 'chain:t0'], repo.root), 'chain/BUILD\n');
    } finally {
      await repo.cleanup();
    }
  });

  it('--output-file writes the output to a file instead of stdout', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'target()\n' });
    try {
      assert.equal(await ok(['list', '::', '--list-output-file=out.txt'], repo.root), '');
      assert.equal(readFileSync(join(repo.root, 'out.txt'), 'utf8'), 'a:a\n');
    } finally {
      await repo.cleanup();
    }
  });
});

describe('specs', () => {
  let repo: TempRepo;
  before(async () => {
    repo = await makeRepo({
      'src/BUILD': 'files(name="txt", sources=["**/*.txt", "!skip.txt"], tags=["text"])\ntarget(name="group", dependencies=[":txt"], tags=["group", "slow"])\n',
      'src/a.txt': 'a',
      'src/skip.txt': 'skip',
      'src/sub/b.txt': 'b',
      'src/sub/c.md': 'c',
      'lib/BUILD': 'target(tags=["slow"])\n',
    });
  });
  after(() => repo.cleanup());

  it('dir:, dir and dir:: differ by depth', async () => {
    assert.equal(await ok(['list', 'src:'], repo.root), 'src/a.txt:txt\nsrc/sub/b.txt:../txt\nsrc:group\nsrc:txt\n');
    assert.equal(await ok(['list', 'src'], repo.root), 'src/a.txt:txt\nsrc/sub/b.txt:../txt\nsrc:group\nsrc:txt\n');
    assert.equal(await ok(['list', '::'], repo.root), 'lib:lib\nsrc/a.txt:txt\nsrc/sub/b.txt:../txt\nsrc:group\nsrc:txt\n');
  });

  it('file paths and globs select the owners of files', async () => {
    assert.equal(await ok(['list', 'src/sub/b.txt'], repo.root), 'src/sub/b.txt:../txt\n');
    assert.equal(await ok(['list', 'src/**/*.txt'], repo.root), 'src/a.txt:txt\nsrc/sub/b.txt:../txt\n');
  });

  it('-spec excludes, a spec given twice is fine, --tag filters', async () => {
    assert.equal(await ok(['list', '::', '-src:'], repo.root), 'lib:lib\n');
    assert.equal(await ok(['list', 'lib:lib', 'lib:lib'], repo.root), 'lib:lib\n');
    assert.equal(await ok(['list', '::', '--tag=slow'], repo.root), 'lib:lib\nsrc:group\n');
    assert.equal(await ok(['list', '::', '--tag=slow,-group'], repo.root), 'lib:lib\n');
    assert.equal(await ok(['list', '::', '--tag=-text'], repo.root), 'lib:lib\nsrc:group\n');
  });

  it('a spec that matches nothing is an error that names it', async () => {
    const r = await runTrews(['list', 'src/sub:'], { cwd: repo.root });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: spec `src\/sub:` matched no targets\n/);
  });

  it('--changed-since selects owners of changed files, with dependents on request', async () => {
    const git = (...args: string[]): string =>
      execFileSync('git', args, { cwd: repo.root, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).toString();
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'init');
    assert.equal(await ok(['list', '--changed-since=HEAD'], repo.root), '');
    await repo.write('src/sub/b.txt', 'changed');
    assert.equal(await ok(['list', '--changed-since=HEAD'], repo.root), 'src/sub/b.txt:../txt\n');
    assert.equal(await ok(['list', '--changed-since=HEAD', '--changed-dependents=transitive'], repo.root), 'src/sub/b.txt:../txt\nsrc:group\nsrc:txt\n');
    await repo.write('lib/new.txt', 'untracked');
    await repo.write('lib/BUILD', 'target(tags=["slow"])\nfiles(name="new", sources=["*.txt"])\n');
    assert.equal(await ok(['list', '--changed-since=HEAD'], repo.root), 'lib/new.txt:new\nlib:lib\nlib:new\nsrc/sub/b.txt:../txt\n');
    const bad = await runTrews(['list', '--changed-since=no-such-ref'], { cwd: repo.root });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: `--changed-since=no-such-ref`: git cannot compare against `no-such-ref`/);
  });
});

describe('help and version', () => {
  it('version prints the version', async () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
    assert.equal(await ok(['version'], examples), `${pkg.version}\n`);
    assert.equal(await ok(['--version'], '/'), `${pkg.version}\n`);
  });

  it('help lists goals and target types', async () => {
    assert.match(await ok(['help', 'goals'], examples), /^Goals:\n(.*\n)* {2}list +List the addresses/m);
    assert.match(await ok(['help', 'targets'], examples), / {2}files +Generates a `file` target for each file/);
    assert.match(await ok(['help', 'files'], examples), /^files\n\n(.*\n)* {2}sources\n {6}type: a list of strings; required\n/m);
  });

  it('help OPTION shows the value and where it came from', async () => {
    const out = await ok(['help', 'remote_execution'], examples, { TREWS_REMOTE_EXECUTION: 'true' });
    assert.match(out, /^ {2}--remote-execution, --no-remote-execution\n {2}TREWS_REMOTE_EXECUTION\n/);
    assert.match(out, / {6}current value: true \(from env TREWS_REMOTE_EXECUTION\)\n/);
    const fromToml = await ok(['help', 'level'], examples);
    assert.match(fromToml, /current value: "info" \(from trews.toml:4\)/);
  });
});
