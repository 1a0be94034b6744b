import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isFailureError, type AbsPath, type Failure } from '../core/index.js';
import { createEngine } from '../engine/index.js';
import {
  createProject,
  DependenciesKey,
  DirTargetsKey,
  formatAddress,
  parseAddressInput,
  parseSpec,
  SpecsKey,
  TargetTypeRegistry,
  transitiveDependencies,
  type Spec,
  type Project,
} from './index.js';

function registry(): TargetTypeRegistry {
  const r = new TargetTypeRegistry();
  r.register({ alias: 'target', help: 'generic', fields: [] });
  r.register({ alias: 'file', help: 'file', fields: [{ name: 'source', type: { kind: 'source' }, required: true, help: 'one file' }] });
  r.register({
    alias: 'files',
    help: 'files',
    fields: [{ name: 'sources', type: { kind: 'sources' }, required: true, help: 'globs' }],
    generator: { generates: 'file', sourceField: 'source' },
  });
  return r;
}

async function repo(files: Record<string, string>): Promise<{ root: string; project: Project }> {
  const root = await mkdtemp(join(tmpdir(), 'trews-targets-'));
  for (const [p, t] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), t);
  }
  const ws = { root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: false } };
  return { root, project: createProject(ws, registry()) };
}

describe('addresses', () => {
  it('formats plain, root and file addresses as Pants does', () => {
    assert.equal(formatAddress({ dir: 'src/app', name: 'app' }), 'src/app:app');
    assert.equal(formatAddress({ dir: '', name: 'root' }), '//:root');
    assert.equal(formatAddress({ dir: 'src', name: 'txt', file: 'a.txt' }), 'src/a.txt:txt');
    assert.equal(formatAddress({ dir: 'src', name: 'txt', file: 'sub/deep/b.txt' }), 'src/sub/deep/b.txt:../../txt');
    assert.equal(formatAddress({ dir: '', name: 'txt', file: 'a.txt' }), 'a.txt:txt');
  });

  it('parses the forms a BUILD file may use, relative to its directory', () => {
    assert.deepEqual(parseAddressInput('//lib:util', 'app'), { raw: '//lib:util', path: 'lib', name: 'util' });
    assert.deepEqual(parseAddressInput('lib:util', 'app'), { raw: 'lib:util', path: 'lib', name: 'util' });
    assert.deepEqual(parseAddressInput(':sib', 'app'), { raw: ':sib', path: 'app', name: 'sib' });
    assert.deepEqual(parseAddressInput('./x.txt', 'app'), { raw: './x.txt', path: 'app/x.txt' });
    assert.deepEqual(parseAddressInput('../lib', 'app'), { raw: '../lib', path: 'lib' });
    assert.deepEqual(parseAddressInput('//:root', 'app'), { raw: '//:root', path: '', name: 'root' });
    assert.equal(parseAddressInput('../../x', 'app'), '`../../x` points outside the build root');
    assert.equal(parseAddressInput('a:b:c', ''), '`a:b:c` has more than one `:`');
    assert.match(parseAddressInput('a:b c', '') as string, /may contain only/);
  });
});

describe('specs', () => {
  const p = (raw: string, cwd = ''): Spec | Failure => parseSpec(raw, cwd);
  it('parses every spec form, relative to the working directory', () => {
    assert.deepEqual(p('::'), { raw: '::', exclude: false, kind: 'recursive', path: '' });
    assert.deepEqual(p('src::', 'a'), { raw: 'src::', exclude: false, kind: 'recursive', path: 'a/src' });
    assert.deepEqual(p('//src:', 'a'), { raw: '//src:', exclude: false, kind: 'dir', path: 'src' });
    assert.deepEqual(p(':x', 'a'), { raw: ':x', exclude: false, kind: 'address', path: 'a', name: 'x' });
    assert.deepEqual(p('-b/c:d'), { raw: '-b/c:d', exclude: true, kind: 'address', path: 'b/c', name: 'd' });
    assert.deepEqual(p('src/**/*.txt'), { raw: 'src/**/*.txt', exclude: false, kind: 'glob', path: 'src/**/*.txt' });
    assert.deepEqual(p('src/a.txt'), { raw: 'src/a.txt', exclude: false, kind: 'path', path: 'src/a.txt' });
    assert.equal((p('../x', '') as Failure).reason, 'bad-spec');
  });
});

describe('targets through the engine', () => {
  let r: { root: string; project: Project };
  before(async () => {
    r = await repo({
      'a/BUILD': 'files(name="f", sources=["*.txt"])\ntarget(name="t", dependencies=[":f", "//b"])\n',
      'a/x.txt': 'x',
      'a/y.txt': 'y',
      'b/BUILD': 'target()\n',
    });
  });
  after(() => rm(r.root, { recursive: true, force: true }));

  it('declares, generates and resolves dependencies', async () => {
    const run = createEngine().startRun();
    const dt = await run.get(new DirTargetsKey(r.project, 'a'));
    assert.deepEqual(dt.targets.map((t) => t.address), ['a/x.txt:f', 'a/y.txt:f', 'a:f', 'a:t']);
    const deps = await run.get(new DependenciesKey(r.project, { dir: 'a', name: 't' }));
    assert.deepEqual(deps.dependencies.map(formatAddress), ['a:f', 'b:b']);
    const all = await transitiveDependencies(run, r.project, [{ dir: 'a', name: 't' }]);
    assert.deepEqual(all.map(formatAddress), ['a/x.txt:f', 'a/y.txt:f', 'a:f', 'b:b']);
  });

  it('an edit re-parses only its BUILD file, and an edit that changes nothing stops early', async () => {
    const parsed: string[] = [];
    let specsComputed = 0;
    const engine = createEngine({
      onCompute: (k) => {
        if (k.id.startsWith('build-file:')) parsed.push(k.id);
        if (k.id.startsWith('specs:')) specsComputed++;
      },
    });
    const specs = new SpecsKey(r.project, [parseSpec('::', '') as Spec]);
    await engine.startRun().get(specs);
    assert.deepEqual(parsed.sort(), ['build-file:a/BUILD', 'build-file:b/BUILD']);
    parsed.length = 0;
    specsComputed = 0;
    // Same targets at the same lines, different text: re-parsed, but nothing above the targets recomputes.
    await writeFile(join(r.root, 'b/BUILD'), 'target()  # the default target\n');
    engine.invalidatePaths(['b/BUILD']);
    const again = await engine.startRun().get(specs);
    assert.deepEqual(parsed, ['build-file:b/BUILD']);
    assert.equal(specsComputed, 0);
    assert.equal(again.length, 5);
    await writeFile(join(r.root, 'b/BUILD'), 'target()\ntarget(name="two")\n');
    engine.invalidatePaths(['b/BUILD']);
    assert.equal((await engine.startRun().get(specs)).length, 6);
    assert.equal(specsComputed, 1);
    // A file coming or going next to a BUILD file (its directory's listing changes) parses nothing again.
    parsed.length = 0;
    await writeFile(join(r.root, 'b/notes.md'), '');
    engine.invalidatePaths(['b/notes.md']);
    assert.equal((await engine.startRun().get(specs)).length, 6);
    assert.deepEqual(parsed, []);
  });

  it('a dependency on a missing target is a located error with a suggestion', async () => {
    const bad = await repo({ 'a/BUILD': 'target(dependencies=["//b:bee"])\n', 'b/BUILD': 'target(name="be")\n' });
    try {
      await assert.rejects(createEngine().startRun().get(new DependenciesKey(bad.project, { dir: 'a', name: 'a' })), (e: unknown) => {
        assert.ok(isFailureError(e));
        assert.equal(e.failure.reason, 'unknown-target');
        assert.equal(e.failure.message, 'unknown target `//b:bee` in `dependencies` of a:a');
        assert.deepEqual(e.failure.hints, ['did you mean //b:be?']);
        assert.equal(e.failure.location?.line, 1);
        assert.equal(e.failure.location?.col, 22);
        return true;
      });
    } finally {
      await rm(bad.root, { recursive: true, force: true });
    }
  });
});
