// End-to-end: `trews check --changed-since` on a JavaScript/TypeScript
// workspace with per-file targets, in a real git repository: a changed
// source file selects its file target, its package and scripts; `check`
// type-checks exactly the packages whose files changed (and, with
// `--changed-dependents`, the packages that depend on them), never one whose
// files did not change.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { makeShellRepo, type ShellRepo } from './helpers/shell.js';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/** A check that fails when a file BROKEN is in its package, as tsc fails on a type error. */
const TYPECHECK = "node -e \"if (require('fs').existsSync('BROKEN')) { console.log('src/x.ts(1,1): error TS2304: Cannot find name \\'x\\'.'); process.exit(2) }\"";

/**
 * a; b depends on a; c on nothing; d on b (so a reaches d only transitively);
 * e imports a in its source without declaring it in package.json (as a
 * workspace whose tsconfig `paths` link packages does): an edge only the
 * file-level graph has.
 */
function workspace(): Record<string, string> {
  const pkg = (name: string, deps: string[]): string =>
    json({ name: `@w/${name}`, version: '1.0.0', dependencies: Object.fromEntries(deps.map((d) => [`@w/${d}`, '*'])), scripts: { typecheck: TYPECHECK } });
  const files: Record<string, string> = {
    'trews.toml': '',
    'package.json': json({ name: 'w', private: true, workspaces: ['packages/*'] }),
    'package-lock.json': json({
      name: 'w',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'w', workspaces: ['packages/*'] },
        ...Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((p) => [`node_modules/@w/${p}`, { resolved: `packages/${p}`, link: true }])),
        'packages/a': { name: '@w/a', version: '1.0.0' },
        'packages/b': { name: '@w/b', version: '1.0.0', dependencies: { '@w/a': '*' } },
        'packages/c': { name: '@w/c', version: '1.0.0' },
        'packages/d': { name: '@w/d', version: '1.0.0', dependencies: { '@w/b': '*' } },
        'packages/e': { name: '@w/e', version: '1.0.0' },
      },
    }),
    'packages/a/package.json': pkg('a', []),
    'packages/b/package.json': pkg('b', ['a']),
    'packages/c/package.json': pkg('c', []),
    'packages/d/package.json': pkg('d', ['b']),
    'packages/e/package.json': pkg('e', []),
    'packages/e/src/x.ts': "import { x } from '@w/a';\nexport const z = x;\n",
  };
  for (const p of ['a', 'b', 'c', 'd']) {
    files[`packages/${p}/src/x.ts`] = p === 'a' || p === 'c' ? 'export const x = 1;\n' : `import { x } from '@w/${p === 'b' ? 'a' : 'b'}';\nexport const y = x;\n`;
    files[`packages/${p}/src/x.test.ts`] = "import { x } from './x.js';\n";
  }
  return files;
}

describe('check --changed-since with per-file targets', () => {
  let repo: ShellRepo;
  const git = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: repo.root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: repo.tmp, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
    }).toString();
  before(async () => {
    repo = await makeShellRepo(workspace());
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'init');
  });
  after(() => repo.cleanup());

  /** The packages a run checked (`✓`/`✕` lines; a failure is told again in the recap), sorted. */
  const checked = (stderr: string): string[] => [...new Set([...stderr.matchAll(/^[✓✕] (\S+) /gm)].map((m) => m[1]!))].sort();

  it('checks only the packages whose files changed, and their dependents on request', async () => {
    let r = await repo.trews(['check', '--changed-since=main']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(checked(r.stderr), []);
    assert.match(r.stderr, /^nothing to check: none of the 0 targets the specs select has a type-checker$/m);

    await repo.write('packages/a/src/x.ts', 'export const x = 2;\n');
    r = await repo.trews(['list', '--changed-since=main']);
    assert.equal(r.stdout, 'packages/a/src/x.ts:../a\npackages/a:a\npackages/a:typecheck\n', 'the file target, its package and its script');
    r = await repo.trews(['check', '--changed-since=main']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(checked(r.stderr), ['packages/a:a']);

    r = await repo.trews(['check', '--changed-since=main', '--changed-dependents=direct']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(checked(r.stderr), ['packages/a:a', 'packages/b:b', 'packages/e:e'], 'e through its file that imports a');

    r = await repo.trews(['check', '--changed-since=main', '--changed-dependents=transitive']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(checked(r.stderr), ['packages/a:a', 'packages/b:b', 'packages/d:d', 'packages/e:e'], 'c depends on nothing that changed');
  });

  it('a committed change is found against the branch it left, and a failing check fails the run', async () => {
    git('checkout', '-q', '-b', 'feature');
    git('commit', '-qam', 'a changed');
    await repo.write('packages/c/src/x.test.ts', "import { x } from './x.js';\nconsole.log(x);\n");
    await repo.write('packages/c/BROKEN', '');
    const r = await repo.trews(['check', '--changed-since=main']);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(checked(r.stderr), ['packages/a:a', 'packages/c:c']);
    assert.match(r.stderr, /^packages\/c\/src\/x\.ts:1:1: error TS2304: Cannot find name 'x'\.$/m);
    assert.doesNotMatch(r.stderr, /packages\/[bde]:/);
  });
});
