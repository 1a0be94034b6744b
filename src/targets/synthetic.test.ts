import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isFailureError, joinRel, type AbsPath } from '../core/index.js';
import { createEngine } from '../engine/index.js';
import { FilesUnderKey, FileTextKey } from '../fs/index.js';
import {
  changedTargets,
  createProject,
  DependenciesKey,
  DirTargetsKey,
  parseSpec,
  SpecsKey,
  TargetTypeRegistry,
  type BuildDeclaration,
  type Spec,
  type SyntheticTargetsProvider,
  type Project,
} from './index.js';

/**
 * A provider as a backend writes one: each line `name [:dep…]` of a
 * directory's `targets.txt` is a `target` (what a package.json is to the
 * JavaScript backend). It records the BUILD declarations it was shown.
 */
function textProvider(name = 'text', seen: BuildDeclaration[][] = []): SyntheticTargetsProvider {
  return {
    name,
    async dirsUnder(ctx, project, dir) {
      const { files } = await ctx.get(new FilesUnderKey(project.ws, dir));
      return files.filter((f) => f === 'targets.txt' || f.endsWith('/targets.txt')).map((f) => f.slice(0, Math.max(0, f.length - 'targets.txt'.length - 1)));
    },
    async targetsIn(ctx, project, dir, declared) {
      seen.push([...declared]);
      const path = joinRel(dir, 'targets.txt');
      const text = await ctx.get(new FileTextKey(project.ws, path));
      if (text === null) return [];
      return text
        .split('\n')
        .map((l, i) => ({ words: l.split(' ').filter(Boolean), line: i + 1 }))
        .filter((x) => x.words.length > 0)
        .map(({ words, line }) => ({
          type: 'target',
          name: words[0]!,
          fields: { description: `inferred from line ${line}` },
          location: { file: path, line, col: 1 },
          sources: [path],
          sourcePatterns: [path],
          dependencyRefs: words.slice(1).map((raw) => ({ raw, location: { file: path, line, col: 1 } })),
        }));
    },
  };
}

function types(): TargetTypeRegistry {
  const r = new TargetTypeRegistry();
  r.register({ alias: 'target', help: 'generic', fields: [] });
  r.register({ alias: 'other', help: 'another type', fields: [] });
  return r;
}

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function repo(files: Record<string, string>, providers: readonly SyntheticTargetsProvider[]): Promise<{ root: string; project: Project }> {
  const root = await mkdtemp(join(tmpdir(), 'trews-synthetic-'));
  roots.push(root);
  for (const [p, t] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), t);
  }
  const ws = { root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: false } };
  return { root, project: createProject(ws, types(), [], providers) };
}

const specs = (...raw: string[]): Spec[] => raw.map((r) => parseSpec(r, '') as Spec);

describe('synthetic targets', () => {
  it('are found by `::`, `dir::` and `dir:` in directories without BUILD files, beside BUILD targets', async () => {
    const { project } = await repo({ 'a/targets.txt': 'one\ntwo :one\n', 'a/b/targets.txt': 'three\n', 'c/BUILD': 'target(name="c")\n' }, [textProvider()]);
    const run = createEngine().startRun();
    const list = async (...raw: string[]) => (await run.get(new SpecsKey(project, specs(...raw)))).map((t) => t.address);
    assert.deepEqual(await list('::'), ['a/b:three', 'a:one', 'a:two', 'c:c']);
    assert.deepEqual(await list('a::'), ['a/b:three', 'a:one', 'a:two']);
    assert.deepEqual(await list('a:'), ['a:one', 'a:two']);
    assert.deepEqual((await run.get(new DependenciesKey(project, { dir: 'a', name: 'two' }))).dependencies, [{ dir: 'a', name: 'one' }]);
    const [one] = (await run.get(new DirTargetsKey(project, 'a'))).targets;
    assert.deepEqual([one!.buildFile, one!.line, one!.fields.description, one!.fields.tags], ['a/targets.txt', 1, 'inferred from line 1', []]);
  });

  it('a BUILD target of the same type extends one: written fields win, dependencies add up, `!` drops inferred ones', async () => {
    const seen: BuildDeclaration[][] = [];
    const { project } = await repo(
      {
        'a/targets.txt': 'one\ntwo :one\n',
        'a/BUILD': 'target(name="two", tags=["x"], dependencies=["!:one", ":three"])\ntarget(name="three")\n',
      },
      [textProvider('text', seen)],
    );
    const run = createEngine().startRun();
    const dt = await run.get(new DirTargetsKey(project, 'a'));
    const two = dt.targets.find((t) => t.address === 'a:two')!;
    assert.deepEqual([two.fields.tags, two.fields.description, two.buildFile, two.line, two.sources], [['x'], 'inferred from line 2', 'a/BUILD', 1, ['a/targets.txt']]);
    assert.deepEqual((await run.get(new DependenciesKey(project, { dir: 'a', name: 'two' }))).dependencies, [{ dir: 'a', name: 'three' }]);
    // The provider saw both declarations, with what each wrote and where.
    const shown = seen.at(-1)!;
    assert.deepEqual(
      shown.map((d) => [d.name, d.written, d.fieldLocations.tags?.col ?? null]),
      [
        ['two', ['name', 'tags', 'dependencies'], 25],
        ['three', ['name'], null],
      ],
    );
  });

  it('a BUILD target of another type replaces one of its name', async () => {
    const { project } = await repo({ 'a/targets.txt': 'one\n', 'a/BUILD': 'other(name="one")\n' }, [textProvider()]);
    const dt = await createEngine().startRun().get(new DirTargetsKey(project, 'a'));
    assert.deepEqual(
      dt.targets.map((t) => [t.address, t.type, t.buildFile]),
      [['a:one', 'other', 'a/BUILD']],
    );
  });

  it('two providers inferring one name is an error at the second', async () => {
    const { project } = await repo({ 'a/targets.txt': 'one\n' }, [textProvider('first'), textProvider('second')]);
    await assert.rejects(createEngine().startRun().get(new DirTargetsKey(project, 'a')), (e: unknown) => {
      assert.ok(isFailureError(e));
      assert.equal(e.failure.reason, 'duplicate-target');
      assert.deepEqual(e.failure.location, { file: 'a/targets.txt', line: 1, col: 1 });
      return true;
    });
  });

  it('are engine keys: an edit of the file they come from re-validates them, and a changed one counts as changed', async () => {
    const { root, project } = await repo({ 'a/targets.txt': 'one\n', 'b/targets.txt': 'other\n' }, [textProvider()]);
    const computed: string[] = [];
    const engine = createEngine({ onCompute: (k) => void (k.id.startsWith('dir-targets:') && computed.push(k.id)) });
    const list = async () => (await engine.startRun().get(new SpecsKey(project, specs('::')))).map((t) => t.address);
    assert.deepEqual(await list(), ['a:one', 'b:other']);
    computed.length = 0;
    await writeFile(join(root, 'a/targets.txt'), 'one\nnew\n');
    engine.invalidatePaths(['a/targets.txt']);
    assert.deepEqual(await list(), ['a:new', 'a:one', 'b:other']);
    assert.deepEqual(computed, ['dir-targets:a'], 'only the directory whose file changed');
    const changed = await changedTargets(engine.startRun(), project, ['a/targets.txt'], 'none');
    assert.deepEqual(changed, [
      { dir: 'a', name: 'new' },
      { dir: 'a', name: 'one' },
    ]);
  });
});
