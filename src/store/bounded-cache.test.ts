import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedCache } from './bounded-cache.js';

describe('BoundedCache', () => {
  it('forgets the least recently used entry past its entry bound', () => {
    const c = new BoundedCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    assert.equal(c.get('a'), 1); // a is now the most recent
    c.set('c', 3);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('c'), 3);
    assert.equal(c.size, 2);
  });

  it('forgets past its weight bound, and never keeps something heavier than the bound', () => {
    const c = new BoundedCache<string, string>(100, 10);
    c.set('a', 'x', 6);
    c.set('b', 'y', 6);
    assert.equal(c.has('a'), false);
    assert.equal(c.has('b'), true);
    c.set('huge', 'z', 11);
    assert.equal(c.has('huge'), false);
    assert.equal(c.has('b'), true);
    c.set('b', 'y2', 10);
    assert.equal(c.get('b'), 'y2');
  });
});
