// End-to-end: `trews tailor` on a JavaScript workspace without BUILD files,
// through the real CLI: it writes only what is missing (a `package_json()`
// per package), appends to a BUILD file a user wrote without touching what
// is there, `--check` lists what it would write and exits 1, the BUILD file
// name follows `[tailor] build_file_name` and must be one `build_patterns`
// reads — and what it writes changes no address and no dependency.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeRepo, runTrews, type TempRepo } from './helpers/index.js';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

const USER_BUILD = '# written by hand\nnode_script(name="build", outputs=["out/**"])'; // no final newline, on purpose

function workspace(): Record<string, string> {
  return {
    'trews.toml': '',
    'package.json': json({ name: 'acme', private: true, workspaces: ['packages/*'] }),
    'package-lock.json': '{}\n',
    'packages/lib/package.json': json({ name: '@acme/lib', version: '1.0.0', exports: { '.': './src/index.ts' }, scripts: { build: 'tsc' } }),
    'packages/lib/src/index.ts': "export * from './util.js';\n",
    'packages/lib/src/util.ts': 'export const util = 1;\n',
    'packages/lib/src/util.test.ts': "import { util } from './util.js';\n",
    'packages/lib/BUILD': USER_BUILD,
    'packages/app/package.json': json({ name: '@acme/app', version: '1.0.0', dependencies: { '@acme/lib': '*' }, scripts: { start: 'node .' } }),
    'packages/app/src/main.ts': "import { util } from '@acme/lib';\n",
    'packages/done/package.json': json({ name: '@acme/done', version: '1.0.0' }),
    'packages/done/BUILD': 'package_json(tags=["mine"])\n',
    // A target of another type named like the package replaces the inferred one: package_json() beside it would clash.
    'packages/odd/package.json': json({ name: '@acme/odd', version: '1.0.0' }),
    'packages/odd/notes.md': '# odd\n',
    'packages/odd/BUILD': 'files(name="odd", sources=["*.md"])\n',
  };
}

async function trews(repo: TempRepo, args: string[], code = 0): Promise<{ stdout: string; stderr: string }> {
  const r = await runTrews(['--no-daemon', ...args], { cwd: repo.root });
  assert.equal(r.code, code, `trews ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return r;
}

/** Every address, and every target's direct and transitive dependencies. */
async function graph(repo: TempRepo): Promise<string> {
  const list = (await trews(repo, ['list', '::'])).stdout;
  const direct = (await trews(repo, ['dependencies', '::'])).stdout;
  const all = (await trews(repo, ['dependencies', '--transitive', 'packages/app/src/main.ts', 'packages/app:app'])).stdout;
  return `${list}--\n${direct}--\n${all}`;
}

describe('trews tailor', () => {
  it('writes what is missing, appends to a user\'s BUILD file, and changes no address or dependency', async () => {
    const repo = await makeRepo(workspace());
    const before = await graph(repo);
    assert.ok(before.includes('packages/app/src/main.ts:../app\n') && before.includes('packages/lib/src/index.ts:../lib\n'), before);

    const check = await trews(repo, ['tailor', '--check'], 1);
    assert.equal(
      check.stderr,
      [
        'note: packages/odd/BUILD declares `odd` as a `files` target, which replaces the inferred one; tailor does not write `package_json()` beside it',
        'would write BUILD: package_json()',
        'would write packages/app/BUILD: package_json()',
        'would write packages/lib/BUILD: package_json()',
        '3 targets missing from BUILD files: run `trews tailor` to write them',
        '',
      ].join('\n'),
    );
    assert.ok(!existsSync(join(repo.root, 'BUILD')) && !existsSync(join(repo.root, 'packages/app/BUILD')), '--check writes nothing');
    assert.equal(readFileSync(join(repo.root, 'packages/lib/BUILD'), 'utf8'), USER_BUILD);

    const wrote = await trews(repo, ['tailor']);
    assert.equal(wrote.stdout, 'created BUILD: package_json()\ncreated packages/app/BUILD: package_json()\nappended to packages/lib/BUILD: package_json()\n');
    assert.equal(readFileSync(join(repo.root, 'packages/app/BUILD'), 'utf8'), 'package_json()\n');
    assert.equal(readFileSync(join(repo.root, 'packages/lib/BUILD'), 'utf8'), `${USER_BUILD}\n\npackage_json()\n`, 'the user\'s lines untouched, the call after them');
    assert.equal(readFileSync(join(repo.root, 'packages/done/BUILD'), 'utf8'), 'package_json(tags=["mine"])\n', 'a package already declared gets nothing');
    assert.equal(readFileSync(join(repo.root, 'packages/odd/BUILD'), 'utf8'), 'files(name="odd", sources=["*.md"])\n');

    assert.equal(await graph(repo), before, 'the same targets and dependencies as inference gave');
    assert.doesNotMatch((await trews(repo, ['tailor', '--check'])).stderr, /would write/, 'nothing missing any more');
    assert.equal((await trews(repo, ['tailor'])).stdout, '', 'a second run writes nothing');
    assert.equal(readFileSync(join(repo.root, 'packages/lib/BUILD'), 'utf8'), `${USER_BUILD}\n\npackage_json()\n`);
  });

  it('names new BUILD files after [tailor] build_file_name, which build_patterns must read', async () => {
    const repo = await makeRepo({ ...workspace(), 'packages/lib/BUILD': 'package_json()\n', 'trews.toml': '[GLOBAL]\nbuild_patterns = ["BUILD.trews"]\n' });
    const bad = await trews(repo, ['tailor'], 2);
    assert.match(bad.stderr, /^error: `\[tailor\] build_file_name` is "BUILD", which `build_patterns` \(BUILD\.trews\) does not make a BUILD file: trews would not read what tailor wrote\n/);
    const before = await graph(repo);
    const r = await trews(repo, ['tailor', '--tailor-build-file-name=BUILD.trews']);
    // packages/*/BUILD are no BUILD files under these patterns, so lib, done and odd get one too.
    assert.equal(r.stdout, 'created BUILD.trews: package_json()\ncreated packages/app/BUILD.trews: package_json()\ncreated packages/done/BUILD.trews: package_json()\ncreated packages/lib/BUILD.trews: package_json()\ncreated packages/odd/BUILD.trews: package_json()\n');
    assert.equal(await graph(repo), before);
  });
});
