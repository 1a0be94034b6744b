import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tscProjects } from './declaration-inputs.js';

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
