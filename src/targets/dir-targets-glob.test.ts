import assert from 'node:assert/strict';
import { test } from 'node:test';
import picomatch from 'picomatch';
import { compiledGlob } from './dir-targets.js';

test('the kept expression of a root pattern answers exactly as a picomatch matcher does', () => {
  const patterns = ['packages/p5/src/*.txt', 'src/**/*.ts', 'a/{b,c}/*.js', 'lib/[ab]?.md', 'x/*', 'a/[x].txt', 'docs/**', '*.json', 'a/!(b).js', 'a/b.txt'];
  const paths = [
    'packages/p5/src/a.txt', 'packages/p5/src/.hidden.txt', 'packages/p5/src/sub/a.txt', 'packages/p50/src/a.txt',
    'src/a.ts', 'src/x/y/z.ts', 'src/.dot/z.ts', 'src/a.tsx', 'a/b/c.js', 'a/c/d.js', 'a/d/e.js', 'lib/a1.md', 'lib/c1.md',
    'x/y', 'x/y/z', 'x/.y', 'a/[x].txt', 'a/x.txt', 'docs/a/b', 'docs', 'package.json', 'a/package.json', 'a/c.js', 'a/b.js', 'a/b.txt', '',
  ];
  for (const pattern of patterns) {
    const reference = picomatch(pattern, { dot: false });
    const kept = compiledGlob(pattern);
    for (const path of paths) assert.equal(kept(path), reference(path), `${pattern} on ${JSON.stringify(path)}`);
  }
});
