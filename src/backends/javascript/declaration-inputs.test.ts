import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deepestDirOf, tscProjects } from './declaration-inputs.js';

describe('tscProjects', () => {
  it('reads the plain compiles and the tsconfig each one reads', () => {
    assert.deepEqual(tscProjects('tsc', 'packages/a'), { build: false, projects: null });
    assert.deepEqual(tscProjects('tsc -p tsconfig.json', 'packages/a'), { build: false, projects: ['packages/a/tsconfig.json'] });
    assert.deepEqual(tscProjects('tsc --project src', 'packages/a'), { build: false, projects: ['packages/a/src/tsconfig.json'] });
    assert.deepEqual(tscProjects('tsc -b --verbose', 'packages/a'), { build: true, projects: ['packages/a/tsconfig.json'] });
    assert.deepEqual(tscProjects("tsc --build tsconfig.lib.json 'tsconfig.spec.json'", ''), { build: true, projects: ['tsconfig.lib.json', 'tsconfig.spec.json'] });
  });

  it('leaves anything else alone: bundlers, chains, watches, what the tokenizer does not read', () => {
    for (const command of ['tsup src/index.ts', 'tsc && esbuild src/index.ts', 'tsc; cp a b', 'tsc -w', 'tsc --watch -p .', 'tsc -p $DIR', 'npx tsc', 'vue-tsc -p .', 'tsc -p', '']) {
      assert.equal(tscProjects(command, 'packages/a'), null, command);
    }
  });
});

describe('deepestDirOf', () => {
  it('answers as the deepest matching prefix of a scan over every directory did, on 5,000 random cases', () => {
    // The definition it replaced: the directories longest first, the first that is the root or a prefix.
    const scan = (dirs: ReadonlySet<string>, f: string): string | undefined =>
      [...dirs].sort((a, b) => b.length - a.length).find((d) => d === '' || f.startsWith(`${d}/`));
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const names = ['packages', 'p1', 'p10', 'apps', 'a', 'src', 'lib'];
    const path = (depth: number): string => Array.from({ length: depth }, () => names[rand(names.length)]).join('/');
    for (let i = 0; i < 5000; i++) {
      const dirs = new Set(Array.from({ length: rand(6) }, () => path(rand(4))));
      const f = `${path(rand(5))}${rand(2) === 0 ? '/' : ''}index.ts`.replace(/^\//, '');
      assert.equal(deepestDirOf(dirs, f), scan(dirs, f), JSON.stringify({ dirs: [...dirs], f }));
    }
  });
});
