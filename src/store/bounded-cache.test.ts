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

  it('forgets what no recent period used, and keeps what a get or set touched', () => {
    const c = new BoundedCache<string, number>(100, 100);
    c.set('old', 1, 10);
    c.set('used', 2, 10);
    c.tick();
    c.tick();
    assert.equal(c.get('used'), 2); // touched in the current period
    c.set('new', 3, 10);
    assert.equal(c.forgetIdle(2), 1);
    assert.equal(c.has('old'), false);
    assert.deepEqual([c.get('used'), c.get('new')], [2, 3]);
    // The weight of what it forgot is free again: two more of 40 fit.
    c.set('a', 4, 40);
    c.set('b', 5, 40);
    assert.equal(c.size, 4);
    c.tick();
    assert.equal(c.forgetIdle(1), 0 + 4); // nothing touched in this period yet
    assert.equal(c.size, 0);
  });

  it('forgets nothing with a window of 0, and an entry stays while each period uses it', () => {
    const c = new BoundedCache<string, number>(100);
    c.set('k', 1);
    for (let i = 0; i < 10; i++) {
      c.tick();
      assert.equal(c.forgetIdle(0), 0);
      assert.equal(c.get('k'), 1);
      assert.equal(c.forgetIdle(1), 0);
    }
    c.tick();
    c.tick();
    assert.equal(c.forgetIdle(2), 1);
  });
});
