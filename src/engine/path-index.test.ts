import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphNode } from './node.js';
import { PathIndex } from './path-index.js';

const node = (path: string): GraphNode => new GraphNode({ id: `file:${path}`, path, compute: async () => null });

test('removing the last node under a directory forgets the directory, and nothing finds the node again', () => {
  const index = new PathIndex();
  const abc = node('a/b/c');
  const ad = node('a/d');
  const root = node('');
  index.add('a/b/c', abc);
  index.add('a/d', ad);
  index.add('', root);
  index.remove('a/b/c', abc);
  const ids = (paths: string[]): string[] => [...index.affected(paths)].map((n) => n.key.id).sort();
  assert.deepEqual(ids(['a']), ['file:', 'file:a/d'], 'the root listing and a/d; a/b/c is gone');
  assert.deepEqual(ids(['a/b/c']), []);
  index.remove('a/d', ad);
  assert.deepEqual(ids(['a']), ['file:'], 'the root listing is still there');
  index.remove('', root);
  assert.equal(index.entries, 0, 'no entry left behind');
  // Removing twice, or a node that was never there, changes nothing.
  index.remove('a/d', ad);
  index.add('a/d', ad);
  index.remove('a/d', node('a/d'));
  assert.deepEqual([...index.affected(['a/d'])], [ad]);
});
